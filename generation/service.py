"""The one door for requests for posts: every command, the admin and the scheduler.

`enqueue_posts` validates a request, creates its runs in one INSERT and queues their jobs
in one Redis round trip after the transaction commits. `run_generation` executes one run
(in a worker, or in-process for the synchronous command).

This module is on the enqueue side (the web process, commands): it loads the pipeline,
and with it the `openai` SDK and trafilatura, only when a run is executed here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import TypedDict, Unpack

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from generation import alerts, budget, estimates, lifecycle, metrics, queues
from generation.exceptions import (
    BudgetExceeded,
    InvalidRequest,
    NoLLMEndpoint,
    QueueUnavailable,
)
from generation.models import GenerationRun, Origin, RunStatus
from generation.progress import EventKind, EventSink, RunEvent, fan_out, ignore
from generation.validators import MAX_DELAY_SECONDS

logger = logging.getLogger(__name__)

AuthorRef = AbstractBaseUser | int | str | None


class PostOptions(TypedDict, total=False):
    """What a request may say about its posts; `request_build` has the defaults."""

    topic: str
    publish: bool
    author: AuthorRef
    tags: bool
    category: str


class QueueOptions(PostOptions, total=False):
    """A background request also says when, on which queue, and who asked."""

    delay: float
    queue: str
    origin: str
    occurrence_id: int | None


@dataclass(frozen=True)
class GenerationRequest:
    """A validated request for posts: what every door hands to the service."""

    count: int
    author_id: int
    topic: str = ""
    publish: bool = False
    with_tags: bool = True
    category: str = ""
    delay: float = 0.0
    queue: str = "content"
    origin: str = Origin.COMMAND
    occurrence_id: int | None = None  # the schedule occurrence asking, if any
    estimate_usd: Decimal | None = None  # one post's expected cost, recorded on its run
    max_attempts: int = field(default_factory=lambda: len(settings.GENERATION_RETRY_INTERVALS) + 1)


def author_resolve(author: AuthorRef) -> AbstractBaseUser:
    """A user given as instance, id or username, else GENERATION_DEFAULT_AUTHOR."""
    user_model = get_user_model()
    if isinstance(author, user_model):
        return author
    ref = author if author not in (None, "") else settings.GENERATION_DEFAULT_AUTHOR
    if ref in (None, ""):
        raise InvalidRequest(
            "No author: pass --author (user id or username) or set GENERATION_DEFAULT_AUTHOR."
        )
    lookup = {"pk": int(ref)} if str(ref).isdigit() else {"username": str(ref)}
    try:
        return user_model.objects.get(**lookup)
    except user_model.DoesNotExist:
        raise InvalidRequest(f"Author {ref!r} does not exist.") from None


def request_build(
    *,
    count: int,
    topic: str = "",
    publish: bool = False,
    delay: float = 0,
    author: AuthorRef = None,
    tags: bool = True,
    category: str = "",
    queue: str = "content",
    origin: str = Origin.COMMAND,
    max_attempts: int | None = None,
    occurrence_id: int | None = None,
) -> GenerationRequest:
    """Validate every parameter and say in one line what is wrong."""
    if isinstance(count, bool) or not isinstance(count, int):
        raise InvalidRequest(f"Count must be a whole number, got {count!r}.")
    if not 1 <= count <= settings.GENERATION_MAX_BATCH:
        raise InvalidRequest(
            f"Count must be between 1 and {settings.GENERATION_MAX_BATCH} "
            f"(GENERATION_MAX_BATCH), got {count}."
        )
    if delay is None or not delay >= 0:  # NaN too
        raise InvalidRequest(f"Delay must be zero or more seconds, got {delay}.")
    if delay > MAX_DELAY_SECONDS:
        raise InvalidRequest(
            f"Delay must be at most {MAX_DELAY_SECONDS} seconds (30 days), got {delay}."
        )
    topic, category = (topic or "").strip(), (category or "").strip()
    if len(topic) > 300:
        raise InvalidRequest("Topic must be at most 300 characters.")
    if len(category) > 100:
        raise InvalidRequest("Category must be at most 100 characters.")
    if queue not in settings.RQ_QUEUE_NAMES:
        raise InvalidRequest(
            f"Unknown queue {queue!r}: one of {', '.join(settings.RQ_QUEUE_NAMES)}."
        )
    if origin not in Origin.values:
        raise InvalidRequest(f"Unknown origin {origin!r}.")
    extra = {"max_attempts": max_attempts} if max_attempts else {}
    return GenerationRequest(
        count=count,
        author_id=author_resolve(author).pk,
        topic=topic,
        publish=bool(publish),
        with_tags=bool(tags),
        category=category,
        delay=float(delay),
        queue=queue,
        origin=origin,
        occurrence_id=occurrence_id,
        **extra,
    )


def enqueue_posts(*, count: int, **options: Unpack[QueueOptions]) -> list[GenerationRun]:
    """Queue `count` posts for background generation; returns their runs.

    Fails before writing anything when the input is bad or Redis is unreachable. The jobs
    reach Redis only after the runs' transaction commits, so a rolled-back caller leaves
    no job behind; should Redis fail at that moment, the runs are removed again.
    """
    request = _estimated(request_build(count=count, **options))
    endpoint_require()
    _budget_require()
    queues.ensure_reachable()
    with transaction.atomic():
        runs = lifecycle.runs_create(request)
    run_ids = [run.pk for run in runs]
    transaction.on_commit(lambda: _push_or_undo(run_ids, request, at=runs[0].scheduled_for))
    logger.info(
        "Queued %s run(s) %s on %s (topic=%r, delay=%ss, origin=%s)",
        len(run_ids),
        _id_span(run_ids),
        request.queue,
        request.topic,
        request.delay,
        request.origin,
    )
    return runs


def endpoint_require() -> None:
    """Refuse, in one line saying what to set, a request no run of which could be written:
    no LLM endpoint (the offline demo's stand-ins set OPENAI_BASE_URL, so they count)."""
    if not settings.OPENAI_API_KEY.strip() and not settings.OPENAI_BASE_URL.strip():
        raise NoLLMEndpoint()


def _estimated(request: GenerationRequest) -> GenerationRequest:
    return replace(request, estimate_usd=estimates.post_estimate().usd)


def _budget_require() -> None:
    """Refuse new runs once today's budget is spent (and tell the admins, once)."""
    try:
        budget.budget_require()
    except BudgetExceeded:
        alerts.alert_budget()
        raise


def _push_or_undo(run_ids: list[int], request: GenerationRequest, *, at: datetime | None) -> None:
    try:
        queues.push_runs(run_ids, queue_name=request.queue, at=at)
    except QueueUnavailable:
        lifecycle.runs_discard(run_ids)
        raise


def _id_span(ids: list[int]) -> str:
    return f"#{ids[0]}" if len(ids) == 1 else f"#{ids[0]}..#{ids[-1]}"


def generate_posts(
    *, count: int, progress: EventSink | None = None, **options: Unpack[PostOptions]
) -> list[GenerationRun]:
    """Generate posts now, in this process, one after another (the synchronous door).

    Each run gets a single attempt; a failed one is recorded and the next one still runs.
    """
    request = _estimated(request_build(count=count, origin=Origin.SYNC, max_attempts=1, **options))
    endpoint_require()
    _budget_require()
    with transaction.atomic():
        runs = lifecycle.runs_create(request)
    emit = progress or ignore
    for run in runs:
        emit(RunEvent(run.pk, EventKind.WAITING, status=RunStatus.QUEUED))
    return [_generate_one(run, emit) for run in runs]


def _generate_one(run: GenerationRun, emit: EventSink) -> GenerationRun:
    try:
        run = run_generation(run.pk, worker_name="sync", progress=emit)
    except Exception:
        run.refresh_from_db()
        if run.status == RunStatus.QUEUED:
            raise  # never started: not a pipeline failure, nothing recorded it
        metrics.inc("runs_failed")  # one attempt only: this failure is final
    emit(RunEvent(run.pk, EventKind.DONE, stage=run.stage, status=run.status))
    return run


def run_generation(
    run_id: int,
    *,
    worker_name: str = "",
    progress: EventSink | None = None,
) -> GenerationRun:
    """Execute one run from its first unfinished stage; returns the finished run.

    Errors are stored on the run (one entry per attempt) and re-raised for the caller
    (RQ records them and retries). Attempts, stage times, tokens and cost go to /metrics.
    """
    # The pipeline (openai, trafilatura, the stages) loads here, on first use: workers
    # preload it before they fork (generation.worker), no other process needs it.
    from generation.pipeline.runner import execute_run

    before = _usage(run_id)
    try:
        run = execute_run(run_id, worker_name=worker_name, progress=fan_out(_metered, progress))
    finally:
        _record_usage(run_id, before)
    metrics.inc("runs_succeeded")
    return run


def _metered(event: RunEvent) -> None:
    if event.kind == EventKind.ATTEMPT:
        metrics.inc("runs_started")
    elif event.kind == EventKind.FINISHED and event.seconds is not None:
        metrics.observe("stage_duration_seconds", event.seconds, stage=event.stage)


USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "cost_usd")


def _usage(run_id: int) -> dict:
    return GenerationRun.objects.filter(pk=run_id).values(*USAGE_FIELDS).first() or {}


def _record_usage(run_id: int, before: dict) -> None:
    """What this attempt used: the run's totals now, less what it had before."""
    after = _usage(run_id)
    if not before or not after:
        return
    metrics.record_usage(
        prompt_tokens=after["prompt_tokens"] - before["prompt_tokens"],
        completion_tokens=after["completion_tokens"] - before["completion_tokens"],
        cost_usd=float(after["cost_usd"] - before["cost_usd"]),
    )
