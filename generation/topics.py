"""The topic stage's database side: what the blog already covers, and reserving a topic.

Runs without a topic pick one of several candidates the model suggests. Taking it is a
reservation: under one lock, the run re-reads what is covered (posts, other runs, the
other runs of its batch) and writes the first candidate still free as its topic, so two
runs of a batch can never take the same subject, however their attempts interleave.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from generation.models import GenerationRun, RunStatus
from generation.pipeline.topic import first_uncovered, pick_configured_topic
from generation.publishing import titles_to_avoid
from generation.runs import Lease, run_update

# Serialises topic reservations across workers (PostgreSQL): held only while a run checks
# what is covered and writes its topic.
TOPIC_LOCK_KEY = 0x70_91C5
LIVE = [RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.RETRYING, RunStatus.SUCCEEDED]


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
def topic_reserve(lease: Lease, run: GenerationRun, candidates: list[dict]) -> dict | None:
    """Take the first candidate nobody covers as the run's topic; None if all are covered."""
    _lock()
    # Written first: on databases without advisory locks this takes the write lock, so
    # the reads below see every reservation committed before this one.
    run_update(lease, updated_at=timezone.now())
    chosen = first_uncovered(candidates, [*covered_topics(run), *batch_topics(run)])
    if chosen is not None:
        run_update(lease, topic=chosen["topic"])
        run.topic = chosen["topic"]
    return chosen


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [TOPIC_LOCK_KEY])
