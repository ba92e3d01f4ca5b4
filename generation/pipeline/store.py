"""The pipeline's database side: every read and write the stages need, in one module.

The stage modules never touch the ORM; the runner asks this module for what a stage
needs (titles to avoid, a run's sources, the blog's tags) and gives it what a stage
produced (sources, checkpoints, usage). Every write to the run goes through the lease
(`generation.runs.leases.run_update`), so a stale execution writes nothing.

Topics: runs without a topic pick one of several candidates the model suggests. Taking
it is a reservation: under one lock, the run re-reads what is covered (posts, other
runs, the other runs of its batch) and writes the first candidate still free as its
topic, so two runs of a batch can never take the same subject, however their attempts
interleave.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from taggit.models import Tag

from blog.models import Category, Post
from generation.models import GenerationRun, ResearchSource, RunSpend, RunStatus
from generation.operations.usage import COST_QUANTUM, CallUsage
from generation.pipeline.types import Source, TopicPlan
from generation.research.base import SourceDoc
from generation.runs.leases import Lease, run_update
from generation.runs.titles import first_uncovered, is_near_duplicate, pick_configured_topic

# Serialises topic reservations across workers (PostgreSQL): held only while a run checks
# what is covered and writes its topic.
TOPIC_LOCK_KEY = 0x70_91C5
LIVE = [RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.RETRYING, RunStatus.SUCCEEDED]


def run_load(run_id: int) -> GenerationRun:
    return GenerationRun.objects.select_related("author").get(pk=run_id)


# --- What the blog already has -----------------------------------------------------------


def titles_to_avoid(limit: int = 200) -> list[str]:
    return list(Post.objects.order_by("-created_at").values_list("title", flat=True)[:limit])


def vocabulary() -> tuple[list[str], list[str]]:
    """Existing tag and category names, for the metadata draft to reuse."""
    tags = list(Tag.objects.order_by("name").values_list("name", flat=True)[:200])
    return tags, list(Category.objects.values_list("name", flat=True))


# --- Topic ------------------------------------------------------------------------------


def covered_topics(run: GenerationRun) -> list[str]:
    """Topics of other batches' live or finished runs, and existing post titles."""
    others = GenerationRun.objects.filter(status__in=LIVE).exclude(topic="")
    others = others.exclude(batch=run.batch).exclude(pk=run.pk)
    return [*others.values_list("topic", flat=True)[:500], *titles_to_avoid()]


def batch_topics(run: GenerationRun) -> list[str]:
    """Topics the other runs of the run's batch have taken."""
    siblings = GenerationRun.objects.filter(batch=run.batch, status__in=LIVE).exclude(pk=run.pk)
    return [topic for topic in siblings.values_list("topic", flat=True) if topic]


def configured_topic_for(run: GenerationRun) -> str | None:
    """For a run without a topic: the batch_index-th configured topic nobody covers yet."""
    return pick_configured_topic(settings.GENERATION_TOPICS, covered_topics(run), run.batch_index)


def fallback_topic(run: GenerationRun) -> str | None:
    """When every suggestion is covered: a configured topic, to write from a new angle."""
    configured = [topic for topic in settings.GENERATION_TOPICS if topic.strip()]
    return configured[run.batch_index % len(configured)] if configured else None


def angles_taken(topic: str, *, exclude_run: int) -> list[str]:
    if not topic:
        return []
    runs = GenerationRun.objects.filter(topic__iexact=topic).exclude(pk=exclude_run)
    return [a for a in runs.values_list("checkpoints__topic__angle", flat=True)[:50] if a]


@transaction.atomic
def topic_reserve(
    lease: Lease, run: GenerationRun, candidates: list[TopicPlan]
) -> TopicPlan | None:
    """Take the first candidate nobody covers as the run's topic; None if all are covered."""
    advisory_lock(TOPIC_LOCK_KEY)
    # Written first: on databases without advisory locks this takes the write lock, so
    # the reads below see every reservation committed before this one.
    run_update(lease, updated_at=timezone.now())
    chosen = first_uncovered(candidates, [*covered_topics(run), *batch_topics(run)])
    if chosen is not None:
        topic_record(lease, run, chosen.topic)
    return chosen


def topic_record(lease: Lease, run: GenerationRun, topic: str) -> None:
    run_update(lease, topic=topic)
    run.topic = topic


def advisory_lock(key: int) -> None:
    """Hold a PostgreSQL advisory lock until the transaction ends (elsewhere: nothing)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


# --- Research and sources ----------------------------------------------------------------


@transaction.atomic
def sources_save(run: GenerationRun, docs: list[SourceDoc]) -> int:
    """Replace the run's research sources; kept ones are numbered 1..k by relevance."""
    ResearchSource.objects.filter(run=run).delete()
    kept = sorted((d for d in docs if d.status == "kept"), key=lambda d: -d.relevance)
    numbers = {id(doc): index for index, doc in enumerate(kept, start=1)}
    ResearchSource.objects.bulk_create(
        [
            ResearchSource(
                run=run,
                number=numbers.get(id(doc)),
                url=doc.url[:2000],
                title=doc.title[:300],
                domain=doc.domain[:255],
                provider=doc.provider[:30],
                published=(doc.published or "")[:40],
                text=doc.text,
                content_hash=doc.content_hash,
                status=doc.status,
                reason=doc.reason[:300],
                relevance=doc.relevance,
                from_cache=doc.cache,
            )
            for doc in docs
        ]
    )
    return len(kept)


def sources_load(run: GenerationRun) -> dict[int, Source]:
    """The run's kept sources by number, as the writing stages see them."""
    rows = ResearchSource.objects.filter(
        run=run, status=ResearchSource.Status.KEPT, number__isnull=False
    ).order_by("number")
    return {
        row.number: Source(row.number, row.title, row.url, row.text)
        for row in rows
        if row.number is not None  # filtered out above; narrows the type
    }


def sources_cited(run: GenerationRun, numbers: Iterable[int]) -> dict[int, ResearchSource]:
    """The run's sources with these numbers, by number."""
    found = ResearchSource.objects.filter(run=run, number__in=numbers)
    return {s.number: s for s in found if s.number is not None}


def sources_mark_cited(run: GenerationRun, numbers: Iterable[int]) -> None:
    ResearchSource.objects.filter(run=run, number__in=list(numbers)).update(cited=True)


# --- Outline ------------------------------------------------------------------------------


def distinct_title(title: str, *, angle: str, run: GenerationRun) -> str:
    """The outline's title, or one made distinct from existing and sibling titles."""
    siblings = GenerationRun.objects.filter(topic__iexact=run.topic).exclude(pk=run.pk)
    others = [
        *titles_to_avoid(),
        *[t for t in siblings.values_list("checkpoints__outline__title", flat=True) if t],
    ]
    if not is_near_duplicate(title, others):
        return title
    with_angle = f"{title}: {angle}"[:190]
    if angle and not is_near_duplicate(with_angle, others):
        return with_angle
    return f"{title} (part {run.batch_index + 1})"[:200]


# --- The run's progress -------------------------------------------------------------------


def stage_start(lease: Lease, run: GenerationRun, stage: str) -> None:
    run.stage = stage
    run_update(lease, stage=stage)


def progress_save(lease: Lease, **fields: Any) -> None:
    """Write checkpoints, timings, usage or citation counts while the run is held."""
    run_update(lease, **fields)


def usage_keep(lease: Lease, **fields: object) -> None:
    """A failed attempt's tokens are real cost: keep them, unless the run was taken over."""
    run_update(lease, strict=False, **fields)


def spend_book(
    run_id: int | None,
    *,
    attempt: int,
    calls: Sequence[CallUsage],
    verification_id: int | None = None,
) -> None:
    """Book what `calls` cost on the days they were made (TIME_ZONE), whatever became of
    the lease: money spent is spent, and the daily budget counts it that day. A living
    post's re-verification books under its `verification_id` (no run)."""
    by_day: dict = {}
    for call in calls:
        day = timezone.localdate(call.at)
        cost, count = by_day.get(day, (Decimal(0), 0))
        by_day[day] = (cost + call.cost_usd, count + 1)
    RunSpend.objects.bulk_create(
        RunSpend(
            run_id=run_id,
            verification_id=verification_id,
            attempt=attempt,
            day=day,
            cost_usd=cost.quantize(COST_QUANTUM),
            calls=count,
        )
        for day, (cost, count) in by_day.items()
    )
