"""Errors of the generation pipeline: each says what went wrong in one line."""

from __future__ import annotations


class GenerationError(Exception):
    """Base class. `permanent` errors are not worth retrying (bad input, no sources)."""

    permanent = False

    def __init__(self, message: str, *, permanent: bool | None = None) -> None:
        super().__init__(message)
        if permanent is not None:
            self.permanent = permanent


class ConfigurationError(GenerationError):
    """A setting is missing or wrong; retrying cannot help until it is fixed."""

    permanent = True


class InvalidRequest(GenerationError):
    """A caller asked for something impossible (bad count, unknown author, ...)."""

    permanent = True


NO_LLM_ENDPOINT = (
    "No LLM endpoint configured: set OPENAI_API_KEY to use api.openai.com, or "
    "OPENAI_BASE_URL (e.g. http://localhost:11434/v1 for Ollama) to use any "
    "OpenAI-compatible server."
)


class NoLLMEndpoint(ConfigurationError, InvalidRequest):
    """Neither OPENAI_API_KEY nor OPENAI_BASE_URL is set: refused at the door (a request
    every run of which would fail), shown as every door shows a refused request."""

    def __init__(self, message: str = NO_LLM_ENDPOINT) -> None:
        super().__init__(message)


class QueueUnavailable(GenerationError):
    """Redis could not be reached; nothing was queued."""


class LLMError(GenerationError):
    """The LLM endpoint failed or answered with something unusable."""


class ProviderError(GenerationError):
    """A research provider failed."""


class FetchRefused(GenerationError):
    """A fetch was refused before it was made (SSRF guard, scheme, size, type)."""

    permanent = True


class NotEnoughSources(GenerationError):
    """Research found too little to write from.

    Permanent when an automatic retry would search the same queries and find the same pages
    (too few on-topic pages); transient when time or passing failures cost the pages it
    needed (the deadline passed, timeouts, 5xx), so the usual retries may read them.
    An operator's retry (after fixing providers or settings) redoes research from scratch
    rather than resuming from its thin result: `restart_stage` says so on the run's record.
    """

    docs: list  # what research tried (its documents), set by research.collect

    permanent = True
    restart_stage = "research"


class NoFreshTopic(GenerationError):
    """Every subject the model suggested is covered and no configured topic is left to
    take a new angle on. Permanent: asking again would get the same answer."""

    permanent = True


class IllegalTransition(GenerationError):
    """A change of a run's status that generation.runs.lifecycle's table does not allow."""

    permanent = True


class RunNotClaimable(IllegalTransition):
    """The run is finished, canceled or held by another live execution."""


class BudgetExceeded(GenerationError):
    """Today's estimated spend reached GENERATION_DAILY_BUDGET_USD: no new runs today."""


class CostCeilingReached(GenerationError):
    """The run's estimated spend reached GENERATION_MAX_RUN_USD. Permanent (no automatic
    retry spends more): the run is held with its checkpoints; an operator's retry after
    raising the ceiling resumes where it stopped."""

    permanent = True
    held = True  # the message is the run's status note


class SectionRedoError(GenerationError, ValueError):
    """A section cannot be rewritten (no such section, no listed source to write from)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)
