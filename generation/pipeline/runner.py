"""Run the stages of one run in order, checkpointing each before the next starts.

Each stage module is a typed function from its inputs to its output, with the LLM and
HTTP clients passed in and no ORM. The adapters below give each stage what it needs from
the database (pipeline/store.py) and the earlier stages' outputs (pipeline/checkpoints.py),
and checkpoint what it returns. A run resumes at its first stage without a checkpoint, so
a failure while writing sections costs no new searches, fetches or outline call on the
next attempt. The run's status changes only through generation.runs.lifecycle.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal, overload

from django.conf import settings

from generation import research as web
from generation.exceptions import (
    CostCeilingReached,
    NoFreshTopic,
    NotEnoughSources,
    RunNotClaimable,
)
from generation.models import STAGE_ORDER, GenerationRun, Stage
from generation.operations.usage import usage_by_stage_merged
from generation.pipeline import (
    checkpoints,
    metadata,
    outline,
    publishing,
    research,
    sections,
    store,
    topic,
    verify,
)
from generation.pipeline.evidence.untrusted import clean_source
from generation.pipeline.llm import LLMClient, UsageLedger
from generation.pipeline.types import (
    CheckedPost,
    Metadata,
    Outline,
    ResearchResult,
    SectionDraft,
    Source,
    TopicPlan,
)
from generation.runs import lifecycle
from generation.runs.leases import Heartbeat, Lease
from generation.runs.logcontext import run_context, set_topic
from generation.runs.progress import EventKind, EventSink, RunEvent, counted, ignore

logger = logging.getLogger(__name__)

USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "llm_calls", "cost_usd", "usage_by_stage")


@dataclass(frozen=True)
class Usage:
    """A run's usage: tokens, calls, cost and the per-stage breakdown (USAGE_FIELDS)."""

    prompt_tokens: int
    completion_tokens: int
    llm_calls: int
    cost_usd: Decimal
    usage_by_stage: dict[str, Any]

    def fields(self) -> dict[str, Any]:
        """As the run's field values, to save with it."""
        return {name: getattr(self, name) for name in USAGE_FIELDS}


@dataclass
class Context:
    run: GenerationRun
    lease: Lease
    emit: EventSink
    ledger: UsageLedger = field(default_factory=UsageLedger)
    base: dict = field(default_factory=dict)  # the run's usage before this attempt
    booked: int = 0  # the ledger's calls already booked to the daily spend

    def __post_init__(self) -> None:
        self.base = {name: getattr(self.run, name) for name in USAGE_FIELDS}

    def note(self, stage: str, message: str) -> None:
        """A note within a stage, for the progress displays."""
        self.emit(RunEvent(self.run.pk, EventKind.NOTE, stage=stage, message=message))

    # Each stage's output has its own type (checkpoints.CODECS reads it back).
    @overload
    def output(self, stage: Literal[Stage.TOPIC]) -> TopicPlan: ...
    @overload
    def output(self, stage: Literal[Stage.RESEARCH]) -> ResearchResult: ...
    @overload
    def output(self, stage: Literal[Stage.OUTLINE]) -> Outline: ...
    @overload
    def output(self, stage: Literal[Stage.SECTIONS]) -> SectionDraft: ...
    @overload
    def output(self, stage: Literal[Stage.CITATIONS]) -> CheckedPost: ...
    @overload
    def output(self, stage: Literal[Stage.METADATA]) -> Metadata: ...
    @overload
    def output(self, stage: str) -> Any: ...
    def output(self, stage: str) -> Any:
        """A finished stage's typed output."""
        return checkpoints.read(self.run.checkpoints, stage)

    def llm(self, work: Callable[[LLMClient], Awaitable[Any]]) -> Any:
        """Run async `work` with a fresh LLM client on its own event loop (database reads
        happen before and after, never inside it)."""

        async def main() -> Any:
            on_wait = functools.partial(self.note, self.run.stage)  # "waiting 4 s for ..."
            async with LLMClient.from_settings(ledger=self.ledger, on_wait=on_wait) as llm:
                return await work(llm)

        return asyncio.run(main())

    def book_spend(self) -> None:
        """Book this attempt's calls made since the last booking, on their days."""
        calls = self.ledger.calls
        if len(calls) > self.booked:
            store.spend_book(self.run.pk, attempt=self.run.attempts, calls=calls[self.booked :])
            self.booked = len(calls)

    def usage(self) -> Usage:
        """The run's usage: what it had before this attempt plus this attempt's."""
        totals, base = self.ledger.totals(), self.base
        return Usage(
            prompt_tokens=base["prompt_tokens"] + totals["prompt_tokens"],
            completion_tokens=base["completion_tokens"] + totals["completion_tokens"],
            llm_calls=base["llm_calls"] + totals["calls"],
            cost_usd=base["cost_usd"] + Decimal(totals["cost_usd"]),
            usage_by_stage=usage_by_stage_merged(base["usage_by_stage"], self.ledger),
        )


def execute_run(
    run_id: int, *, worker_name: str = "", progress: EventSink | None = None
) -> GenerationRun:
    """Claim the run, run its unfinished stages, publish; record any error and re-raise."""
    lease = lifecycle.run_claim(run_id, worker_name=worker_name)
    run = store.run_load(run_id)
    ctx = Context(run=run, lease=lease, emit=progress or ignore)
    with run_context(run.pk, run.topic), Heartbeat(lease) as heartbeat:
        logger.info("Run %s: attempt %s/%s starts", run.pk, run.attempts, run.max_attempts)
        attempt = f"attempt {run.attempts}/{run.max_attempts}"
        ctx.emit(RunEvent(run.pk, EventKind.ATTEMPT, stage=run.stage, message=attempt))
        try:
            for stage in STAGE_ORDER:
                if checkpoints.finished(run.checkpoints, stage):
                    continue
                if heartbeat.lost.is_set():
                    raise RunNotClaimable(f"Run {run.pk} lost its lease; stopping.")
                _ceiling_check(ctx, stage)
                _run_stage(ctx, stage)
        except BaseException as exc:
            logger.exception("Run %s failed in stage %s", run.pk, run.stage)
            ctx.book_spend()
            store.usage_keep(lease, timings=run.timings, **ctx.usage().fields())
            lifecycle.run_record_error(lease, exc)
            raise
        run.refresh_from_db()
        logger.info("Run %s succeeded: post %s", run.pk, run.post_id)
    return run


def _ceiling_check(ctx: Context, stage: str) -> None:
    """At each stage boundary: a run that has spent GENERATION_MAX_RUN_USD stops here,
    its checkpoints kept, until the ceiling is raised and the run retried."""
    ceiling = settings.GENERATION_MAX_RUN_USD
    spent = ctx.usage().cost_usd
    if ceiling is not None and spent >= ceiling:
        raise CostCeilingReached(
            f"Held before {stage}: this post has spent ${spent:.4f}, reaching "
            f"GENERATION_MAX_RUN_USD (${ceiling:.2f}). Its finished stages are kept: "
            "raise the ceiling and retry the run to resume."
        )


def _run_stage(ctx: Context, stage: str) -> None:
    run = ctx.run
    ctx.emit(RunEvent(run.pk, EventKind.STARTED, stage=stage))
    store.stage_start(ctx.lease, run, stage)
    started = time.perf_counter()
    output = STAGES[stage](ctx)
    elapsed = round(time.perf_counter() - started + _spent_ahead(ctx, stage), 3)
    ctx.book_spend()
    run.timings = {**run.timings, stage: round(run.timings.get(stage, 0) + elapsed, 3)}
    if stage == Stage.PUBLISH:
        publishing.post_publish_run(
            ctx.lease, run, output, timings=run.timings, **ctx.usage().fields()
        )
    else:
        run.checkpoints = checkpoints.written(run.checkpoints, stage, output)
        store.progress_save(
            ctx.lease, checkpoints=run.checkpoints, timings=run.timings, **ctx.usage().fields()
        )
    ctx.emit(RunEvent(run.pk, EventKind.FINISHED, stage=stage, seconds=elapsed))


def _spent_ahead(ctx: Context, stage: str) -> float:
    """Seconds a stage's work took before the stage itself: the metadata draft is written
    alongside the sections (it needs no section text), and booked here."""
    if stage == Stage.METADATA:
        return ctx.output(Stage.SECTIONS).metadata_seconds
    return 0.0


# --- Stages -----------------------------------------------------------------------------


def _topic(ctx: Context) -> TopicPlan:
    run = ctx.run
    subject = run.topic or store.configured_topic_for(run)
    chosen = _angle(ctx, subject) if subject else _fresh_topic(ctx)
    if chosen.topic != run.topic:
        store.topic_record(ctx.lease, run, chosen.topic)
        set_topic(run.pk, run.topic)
    return chosen


def _angle(ctx: Context, subject: str) -> TopicPlan:
    run = ctx.run
    taken = store.angles_taken(subject, exclude_run=run.pk)
    avoid = store.titles_to_avoid()
    return ctx.llm(
        lambda llm: topic.choose_angle(
            llm,
            topic=subject,
            index=run.batch_index,
            count=run.batch_size,
            taken_angles=taken,
            avoid_titles=avoid,
        )
    )


def _fresh_topic(ctx: Context) -> TopicPlan:
    """No topic given or configured: reserve the first of the model's candidates that
    nothing covers, else take a new angle on a configured topic."""
    run = ctx.run
    covered, taken = store.covered_topics(run), store.batch_topics(run)
    count = min(max(5, run.batch_size + 2), 10)
    candidates = ctx.llm(
        lambda llm: topic.suggest_topics(llm, count=count, covered=covered, taken=taken)
    )
    chosen = store.topic_reserve(ctx.lease, run, candidates)
    if chosen is not None:
        set_topic(run.pk, run.topic)
        return chosen
    fallback = store.fallback_topic(run)
    if fallback is None:
        suggested = "; ".join(c.topic for c in candidates) or "nothing"
        raise NoFreshTopic(
            f"Every topic the model suggested is covered ({suggested}) and GENERATION_TOPICS "
            "is empty: give a topic, or list topics in GENERATION_TOPICS (comma-separated) "
            "with pages on them (Markdown files) in a folder named by RESEARCH_LOCAL_DIR, "
            "searched by the 'local' provider (the offline demo adds it when that is set)."
        )
    return _angle(ctx, fallback)


def _research(ctx: Context) -> ResearchResult:
    plan: TopicPlan = ctx.output(Stage.TOPIC)
    providers = web.providers_from_settings()

    async def work(llm: LLMClient) -> web.Findings:
        async with web.http_client_from_settings() as http, web.visitor_from_settings() as visit:
            return await research.investigate(
                llm,
                http,
                plan=plan,
                providers=providers,
                options=web.research_options_from_settings(),
                visitor=visit,
                on_progress=lambda message: ctx.note(Stage.RESEARCH, message),
            )

    try:
        findings = ctx.llm(work)
    except NotEnoughSources as exc:
        # Keep the record of every page tried and why it was refused, then fail.
        store.sources_save(ctx.run, getattr(exc, "docs", []))
        raise
    kept = store.sources_save(ctx.run, findings.docs)
    ctx.note(Stage.RESEARCH, f"{counted(kept, 'source')} kept of {len(findings.docs)} found")
    return research.result_of(findings, kept=kept)


def _sources(ctx: Context) -> dict[int, Source]:
    # Instructions a page gives the model are dropped before any prompt sees its text.
    return {n: clean_source(source) for n, source in store.sources_load(ctx.run).items()}


def _outline(ctx: Context) -> Outline:
    plan: TopicPlan = ctx.output(Stage.TOPIC)
    sources = _sources(ctx)
    planned = ctx.llm(
        lambda llm: outline.make_outline(
            llm,
            plan=plan,
            sources=sources,
            sections=settings.GENERATION_SECTIONS,
            min_sources=settings.GENERATION_MIN_SOURCES_PER_SECTION,
        )
    )
    title = store.distinct_title(planned.title, angle=plan.angle, run=ctx.run)
    return replace(planned, title=title)


def _sections(ctx: Context) -> SectionDraft:
    plan: Outline = ctx.output(Stage.OUTLINE)
    done = checkpoints.read_partial(ctx.run.checkpoints)
    tags, categories = store.vocabulary()
    sources = _sources(ctx)
    written, errors = ctx.llm(
        lambda llm: sections.write_all(
            llm, outline=plan, sources=sources, done=done, tags=tags, categories=categories
        )
    )
    ctx.note(Stage.SECTIONS, f"{counted(written.pieces, 'piece')} written")
    if errors:
        # Keep what was written: the next attempt writes only the missing pieces.
        ctx.run.checkpoints = checkpoints.with_partial(ctx.run.checkpoints, written)
        store.progress_save(ctx.lease, checkpoints=ctx.run.checkpoints, **ctx.usage().fields())
        raise errors[0]
    return written.complete(len(plan.sections))


def _secrets() -> tuple[str, ...]:
    """Values no post may hold, whatever a page talked the model into writing."""
    names = ("OPENAI_API_KEY", "SECRET_KEY", "TAVILY_API_KEY", "BRAVE_API_KEY")
    return tuple(value for name in names if (value := getattr(settings, name, "")))


def _citations(ctx: Context) -> CheckedPost:
    sources = _sources(ctx)
    plan: Outline = ctx.output(Stage.OUTLINE)
    draft: SectionDraft = ctx.output(Stage.SECTIONS)
    checked: CheckedPost = ctx.llm(
        lambda llm: verify.check_post(
            llm,
            outline=plan,
            draft=draft,
            sources=sources,
            threshold=settings.GENERATION_CITATION_THRESHOLD,
            judge=settings.GENERATION_CITATION_JUDGE,
            max_removed_share=settings.GENERATION_MAX_REMOVED_SHARE,
            secrets=_secrets(),
        )
    )
    report = checked.report
    store.progress_save(
        ctx.lease,
        citations_total=report.claims,
        citations_verified=report.kept,
        citations_removed=len(report.removed),
    )
    ctx.note(
        Stage.CITATIONS,
        f"{report.kept}/{report.claims} claims kept ({len(report.revised)} revised, "
        f"{len(report.removed)} removed)",
    )
    return checked


def _metadata(ctx: Context) -> Metadata:
    draft: SectionDraft = ctx.output(Stage.SECTIONS)
    tags, categories = store.vocabulary()
    return metadata.finalize(
        draft.metadata,
        body=ctx.output(Stage.CITATIONS).body,
        with_tags=ctx.run.with_tags,
        category=ctx.run.category_name,
        categories=categories,
        tags=tags,
    )


def _publish(ctx: Context) -> publishing.PostDraft:
    checked: CheckedPost = ctx.output(Stage.CITATIONS)
    held = checked.report.held
    if held and ctx.run.publish:
        logger.warning("Run %s: post held as a draft: %s", ctx.run.pk, held)
    return publishing.PostDraft(
        title=ctx.output(Stage.OUTLINE).title,
        body=checked.body,
        cited=checked.cited,
        metadata=ctx.output(Stage.METADATA),
        held=held,
    )


STAGES: dict[str, Callable[[Context], Any]] = {
    Stage.TOPIC: _topic,
    Stage.RESEARCH: _research,
    Stage.OUTLINE: _outline,
    Stage.SECTIONS: _sections,
    Stage.CITATIONS: _citations,
    Stage.METADATA: _metadata,
    Stage.PUBLISH: _publish,
}
