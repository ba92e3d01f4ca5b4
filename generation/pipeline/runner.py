"""Run the stages of one run in order, checkpointing each before the next starts.

Stages are pure-ish functions (LLM and HTTP clients passed in, no ORM); this module is
the only place that reads and writes the database around them. A run resumes at its
first stage without a checkpoint, so a failure while writing sections costs no new
searches, fetches or outline call on the next attempt.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings

from generation import publishing, topics
from generation import research as web
from generation.exceptions import NoFreshTopic, NotEnoughSources, RunNotClaimable
from generation.llm import LLMClient, UsageLedger
from generation.logcontext import run_context, set_topic
from generation.models import STAGE_ORDER, GenerationRun, ResearchSource, Stage
from generation.pipeline import citations, metadata, outline, research, sections, topic, verify
from generation.pipeline.types import Source
from generation.pipeline.untrusted import clean_source
from generation.progress import EventKind, EventSink, RunEvent, ignore
from generation.runs import Heartbeat, Lease, run_claim, run_record_error, run_update

logger = logging.getLogger(__name__)


@dataclass
class Context:
    run: GenerationRun
    lease: Lease
    ledger: UsageLedger
    emit: EventSink

    def progress(self, stage: str, message: str) -> None:
        """A note within a stage, for the progress displays."""
        self.emit(RunEvent(self.run.pk, EventKind.NOTE, stage=stage, message=message))

    @property
    def checkpoints(self) -> dict:
        return self.run.checkpoints

    def llm(self, work: Callable[[LLMClient], Awaitable[Any]]) -> Any:
        """Run async `work` with a fresh LLM client on its own event loop."""

        async def main() -> Any:
            async with LLMClient.from_settings(ledger=self.ledger) as llm:
                return await work(llm)

        return asyncio.run(main())


def execute_run(
    run_id: int, *, worker_name: str = "", progress: EventSink | None = None
) -> GenerationRun:
    """Claim the run, run its unfinished stages, publish; record any error and re-raise."""
    lease = run_claim(run_id, worker_name=worker_name)
    run = GenerationRun.objects.select_related("author").get(pk=run_id)
    ctx = Context(run=run, lease=lease, ledger=UsageLedger(), emit=progress or ignore)
    with run_context(run.pk, run.topic), Heartbeat(lease) as heartbeat:
        logger.info("Run %s: attempt %s/%s starts", run.pk, run.attempts, run.max_attempts)
        attempt = f"attempt {run.attempts}/{run.max_attempts}"
        ctx.emit(RunEvent(run.pk, EventKind.ATTEMPT, stage=run.stage, message=attempt))
        try:
            for stage in STAGE_ORDER:
                if stage in run.checkpoints:
                    continue
                if heartbeat.lost.is_set():
                    raise RunNotClaimable(f"Run {run.pk} lost its lease; stopping.")
                _run_stage(ctx, stage)
        except BaseException as exc:
            logger.exception("Run %s failed in stage %s", run.pk, run.stage)
            _save_usage(ctx)
            run_record_error(lease, exc)
            raise
        run.refresh_from_db()
        logger.info("Run %s succeeded: post %s", run.pk, run.post_id)
    return run


def _run_stage(ctx: Context, stage: str) -> None:
    ctx.emit(RunEvent(ctx.run.pk, EventKind.STARTED, stage=stage))
    ctx.run.stage = stage
    run_update(ctx.lease, stage=stage)
    started = time.perf_counter()
    output = STAGES[stage](ctx)
    elapsed = round(time.perf_counter() - started, 3)
    ctx.run.timings = {**ctx.run.timings, stage: round(ctx.run.timings.get(stage, 0) + elapsed, 3)}
    if stage == Stage.PUBLISH:
        publishing.publish_run(ctx.lease, ctx.run, usage=_usage_fields(ctx), **output)
    else:
        ctx.run.checkpoints = {**ctx.run.checkpoints, stage: output}
        run_update(
            ctx.lease,
            checkpoints=ctx.run.checkpoints,
            timings=ctx.run.timings,
            **_usage_fields(ctx),
        )
    ctx.emit(RunEvent(ctx.run.pk, EventKind.FINISHED, stage=stage, seconds=elapsed))


def _usage_fields(ctx: Context) -> dict:
    totals = ctx.ledger.totals()
    base = ctx.run
    return {
        "prompt_tokens": base.prompt_tokens + totals["prompt_tokens"],
        "completion_tokens": base.completion_tokens + totals["completion_tokens"],
        "llm_calls": base.llm_calls + totals["calls"],
        "cost_usd": base.cost_usd + Decimal(totals["cost_usd"]),
    }


def _save_usage(ctx: Context) -> None:
    """Tokens spent by a failed attempt are real cost: keep them on the run."""
    fields = {"timings": ctx.run.timings, **_usage_fields(ctx)}
    GenerationRun.objects.filter(pk=ctx.run.pk, lease_token=ctx.lease.token).update(**fields)


# --- Stages -----------------------------------------------------------------------------


def _topic(ctx: Context) -> dict:
    run = ctx.run
    subject = run.topic or topics.configured_topic_for(run)
    chosen = _angle(ctx, subject) if subject else _fresh_topic(ctx)
    if chosen["topic"] != run.topic:
        run.topic = chosen["topic"]
        run_update(ctx.lease, topic=run.topic)
        set_topic(run.pk, run.topic)
    return chosen


def _angle(ctx: Context, subject: str) -> dict:
    run = ctx.run
    # Database reads happen here, outside the event loop the LLM call runs on.
    taken = topics.angles_taken(subject, exclude_run=run.pk)
    avoid = publishing.titles_to_avoid()
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


def _fresh_topic(ctx: Context) -> dict:
    """No topic given or configured: reserve the first of the model's candidates that
    nothing covers, else take a new angle on a configured topic."""
    run = ctx.run
    covered, taken = topics.covered_topics(run), topics.batch_topics(run)
    count = min(max(5, run.batch_size + 2), 10)
    candidates = ctx.llm(
        lambda llm: topic.suggest_topics(llm, count=count, covered=covered, taken=taken)
    )
    chosen = topics.topic_reserve(ctx.lease, run, candidates)
    if chosen is not None:
        set_topic(run.pk, run.topic)
        return chosen
    fallback = topics.fallback_topic(run)
    if fallback is None:
        suggested = "; ".join(c["topic"] for c in candidates) or "nothing"
        raise NoFreshTopic(
            f"Every topic the model suggested is covered ({suggested}) and GENERATION_TOPICS "
            "is empty: give a topic, or list topics in GENERATION_TOPICS."
        )
    return _angle(ctx, fallback)


def _research(ctx: Context) -> dict:
    plan = ctx.checkpoints[Stage.TOPIC]

    async def work(llm: LLMClient) -> web.Findings:
        queries = await research.plan_queries(llm, topic=plan["topic"], angle=plan["angle"])
        ctx.progress(Stage.RESEARCH, f"{len(queries)} queries")
        return await research.gather_sources(
            llm,
            queries,
            topic=plan["topic"],
            angle=plan["angle"],
            on_progress=lambda msg: ctx.progress(Stage.RESEARCH, msg),
        )

    try:
        findings = ctx.llm(work)
    except NotEnoughSources as exc:
        # Keep the record of every page tried and why it was refused, then fail.
        publishing.sources_save(ctx.run, getattr(exc, "docs", []))
        raise
    kept = publishing.sources_save(ctx.run, findings.docs)
    ctx.progress(Stage.RESEARCH, f"{kept} sources kept of {len(findings.docs)} found")
    return {
        "queries": findings.queries,
        "kept": kept,
        "found": len(findings.docs),
        "rounds": findings.rounds,
        **{key: findings.stats[key] for key in ("cut", "refused")},
    }


def _sources(ctx: Context) -> dict[int, Source]:
    rows = ResearchSource.objects.filter(
        run=ctx.run, status=ResearchSource.Status.KEPT, number__isnull=False
    ).order_by("number")
    # Instructions a page gives the model are dropped before any prompt sees its text.
    return {
        row.number: clean_source(Source(row.number, row.title, row.url, row.text)) for row in rows
    }


def _outline(ctx: Context) -> dict:
    plan = ctx.checkpoints[Stage.TOPIC]
    sources = _sources(ctx)
    draft = ctx.llm(
        lambda llm: outline.make_outline(
            llm,
            topic=plan["topic"],
            angle=plan["angle"],
            sources=list(sources.values()),
            sections=settings.GENERATION_SECTIONS,
        )
    )
    fitted = outline.fit_sections(
        draft["sections"],
        valid=set(sources),
        min_sources=settings.GENERATION_MIN_SOURCES_PER_SECTION,
    )
    title = publishing.distinct_title(draft["title"].strip(), angle=plan["angle"], run=ctx.run)
    return {"title": title, "angle": plan["angle"], "sections": fitted}


def _sections(ctx: Context) -> dict:
    done = dict(ctx.checkpoints.get("sections_partial", {}))
    tags, categories = publishing.vocabulary()
    sources = _sources(ctx)
    finished, errors = ctx.llm(
        lambda llm: sections.write_all(
            llm,
            outline=ctx.checkpoints[Stage.OUTLINE],
            sources=sources,
            done=done,
            tags=tags,
            categories=categories,
        )
    )
    done.update(finished)
    ctx.progress(Stage.SECTIONS, f"{len(done)} pieces written")
    if errors:
        # Keep what was written: the next attempt writes only the missing pieces.
        ctx.run.checkpoints = {**ctx.checkpoints, "sections_partial": done}
        run_update(ctx.lease, checkpoints=ctx.run.checkpoints, **_usage_fields(ctx))
        raise errors[0]
    ctx.run.checkpoints.pop("sections_partial", None)
    return done


def _citations(ctx: Context) -> dict:
    plan = ctx.checkpoints[Stage.OUTLINE]
    written = ctx.checkpoints[Stage.SECTIONS]
    sources = _sources(ctx)
    texts, report = ctx.llm(
        lambda llm: verify.verify_post(
            llm,
            pieces=_pieces(plan, written),
            sources=sources,
            threshold=settings.GENERATION_CITATION_THRESHOLD,
            judge=settings.GENERATION_CITATION_JUDGE,
        )
    )
    body = citations.assemble(
        plan,
        {"introduction": texts["introduction"], "conclusion": texts["conclusion"]},
        [texts[sections.section_key(i)] for i in range(len(plan["sections"]))],
    )
    final, cited = citations.renumber(body, cited=set(sources))
    report.held = citations.hold_reason(
        report, max_removed_share=settings.GENERATION_MAX_REMOVED_SHARE
    )
    run_update(
        ctx.lease,
        citations_total=report.claims,
        citations_verified=report.kept,
        citations_removed=len(report.removed),
    )
    ctx.progress(
        Stage.CITATIONS,
        f"{report.kept}/{report.claims} claims kept ({len(report.revised)} revised, "
        f"{len(report.removed)} removed)",
    )
    return {"body": final, "cited": cited, **report.as_dict()}


def _pieces(plan: dict, written: dict) -> list[verify.Piece]:
    """The post's pieces in reading order, each with the sources its writer was given."""
    framing = written["framing"]
    return [
        verify.Piece("introduction", framing["introduction"]),
        *(
            verify.Piece(
                sections.section_key(i), written[sections.section_key(i)], tuple(s["sources"])
            )
            for i, s in enumerate(plan["sections"])
        ),
        verify.Piece("conclusion", framing["conclusion"]),
    ]


def _metadata(ctx: Context) -> dict:
    pieces = ctx.checkpoints[Stage.SECTIONS]
    _, categories = publishing.vocabulary()
    return metadata.finalize(
        pieces["metadata"],
        introduction=pieces["framing"]["introduction"],
        with_tags=ctx.run.with_tags,
        category=ctx.run.category_name,
        categories=categories,
    )


def _publish(ctx: Context) -> dict:
    held = ctx.checkpoints[Stage.CITATIONS].get("held", "")
    if held and ctx.run.publish:
        logger.warning("Run %s: post held as a draft: %s", ctx.run.pk, held)
    return {
        "title": ctx.checkpoints[Stage.OUTLINE]["title"],
        "body": ctx.checkpoints[Stage.CITATIONS]["body"],
        "cited": ctx.checkpoints[Stage.CITATIONS]["cited"],
        "meta": ctx.checkpoints[Stage.METADATA],
        "held": held,
    }


STAGES: dict[str, Callable[[Context], dict]] = {
    Stage.TOPIC: _topic,
    Stage.RESEARCH: _research,
    Stage.OUTLINE: _outline,
    Stage.SECTIONS: _sections,
    Stage.CITATIONS: _citations,
    Stage.METADATA: _metadata,
    Stage.PUBLISH: _publish,
}
