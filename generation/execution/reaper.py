"""Recover runs whose execution died without a word: a killed horse, a killed worker.

The run row is the source of truth. A horse that dies leaves its run `running`; the
worker that saw it die (or, when the whole worker died, the reaper on any other worker
once the run's lease has expired) records the lost attempt and lets RQ's retry policy
decide what happens next. Each lost attempt is recorded exactly once: the record is a
conditional update of a `running` row.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from django.utils import timezone
from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job

from generation import queues, rq_private
from generation.models import GenerationRun, Origin, RunStatus
from generation.operations import metrics
from generation.queues import job_id_for, run_id_from_job_id
from generation.runs import lifecycle
from generation.runs.lifecycle import Transition

logger = logging.getLogger(__name__)

REAPER_LOCK = "drb:reaper:lock"
# A waiting run this old whose job is missing from Redis lost it (its job is pushed right
# after the runs' commit, within a second).
ORPHAN_AFTER_SECONDS = 60
ORPHAN_BATCH = 1000


def record_lost_attempt(
    job: Job, *, reason: str, will_retry: bool, retry_now: bool = False
) -> bool:
    """Record on a still-`running` run that its attempt died; False if already recorded.

    A retried run shows when RQ will try again (its next retry interval), or now."""
    run_id = run_id_from_job_id(job.id)
    if run_id is None:
        return False
    retry_at = None
    if will_retry and not retry_now:
        retry_at = timezone.now() + timedelta(seconds=rq_private.retry_interval(job))
    run = lifecycle.run_attempt_lost(
        run_id, reason=reason, will_retry=will_retry, retry_at=retry_at
    )
    if run is None:
        return False
    logger.warning("Run %s: attempt %s lost (%s)", run_id, run.attempts, reason)
    metrics.inc("runs_retried" if will_retry else "runs_failed")
    return True


def reap(connection: Redis) -> int:
    """The reaper's pass, on one worker at a time: runs whose execution died, and waiting
    runs whose job Redis lost. Returns how many runs were recovered."""
    lock = connection.lock(REAPER_LOCK, timeout=60, blocking=False)
    if not lock.acquire(blocking=False):
        return 0
    try:
        return reap_expired_runs(connection) + len(reap_orphaned_runs())
    finally:
        lock.release()


def reap_expired_runs(connection: Redis) -> int:
    """Queue again (or fail) every run whose lease expired; returns how many were reaped.

    The run is retried at once rather than after the retry interval: its worker died, the
    run did nothing wrong.
    """
    expired = GenerationRun.objects.filter(
        status=RunStatus.RUNNING, lease_expires_at__lt=timezone.now()
    ).values_list("pk", flat=True)
    return sum(_reap(connection, run_id) for run_id in list(expired[:100]))


def _reap(connection: Redis, run_id: int) -> bool:
    try:
        job = Job.fetch(job_id_for(run_id), connection=connection)
    except NoSuchJobError:
        return _fail_without_job(run_id)
    will_retry = rq_private.will_retry(job)
    lost = "worker lost: its lease expired"
    if not record_lost_attempt(job, reason=lost, will_retry=will_retry, retry_now=True):
        return False
    forget_execution(connection, job)
    with connection.pipeline() as pipe:
        if will_retry:
            rq_private.job_retry_now(connection, job, pipeline=pipe)
        else:
            rq_private.job_fail(job, reason="Worker lost: the run's lease expired", pipeline=pipe)
        pipe.execute()
    return True


def _fail_without_job(run_id: int) -> bool:
    """A synchronous run (no RQ job) whose process died: it cannot be retried here."""
    if lifecycle.run_attempt_lost(run_id, reason="process lost", will_retry=False) is None:
        return False
    metrics.inc("runs_failed")
    return True


def forget_execution(connection: Redis, job: Job) -> None:
    """Drop the dead execution from the started registry so RQ does not retry it again."""
    rq_private.execution_forget(connection, job)


def reap_orphaned_runs(*, older_than_seconds: int = ORPHAN_AFTER_SECONDS) -> list[int]:
    """Queue again the waiting runs whose job no longer exists in Redis: a process killed
    between the runs' commit and the push of their jobs, Redis that lost its data, a job
    deleted outside the dashboard. Returns the run ids queued again.

    Runs younger than `older_than_seconds` are left alone (their job may be on its way),
    and so are the synchronous command's runs (its process runs them one after another; a
    worker must not take them). A delayed run keeps its start time. Workers call this from
    their reaper pass (`reap`); `queue_retry orphaned` calls it by hand.
    """
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    waiting = list(
        GenerationRun.objects.filter(
            status__in=lifecycle.sources(Transition.CANCEL), created_at__lt=cutoff
        )
        .exclude(origin=Origin.SYNC)
        .order_by("pk")
        .values_list("pk", "queue_name", "scheduled_for")[:ORPHAN_BATCH]
    )
    missing = _without_job(waiting)
    now = timezone.now()
    for (queue_name, at), ids in missing.items():
        queues.push_runs(ids, queue_name=queue_name, at=at if at and at > now else None)
    orphaned = sorted(run_id for ids in missing.values() for run_id in ids)
    if orphaned:
        logger.warning("Queued again run(s) %s: their jobs were missing from Redis", orphaned)
    return orphaned


def _without_job(waiting: list[tuple]) -> dict[tuple, list[int]]:
    """(queue, start time) -> ids of the runs among `waiting` whose job Redis lacks."""
    connection = queues.get_queue("default").connection
    with connection.pipeline() as pipe:
        for run_id, _, _ in waiting:
            pipe.exists(Job.key_for(queues.job_id_for(run_id)))
        exists = pipe.execute()
    missing: dict[tuple, list[int]] = defaultdict(list)
    for (run_id, queue_name, at), present in zip(waiting, exists, strict=True):
        if not present:
            missing[(queue_name, at)].append(run_id)
    return missing
