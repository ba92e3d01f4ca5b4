"""Recover runs whose execution died without a word: a killed horse, a killed worker.

The run row is the source of truth. A horse that dies leaves its run `running`; the
worker that saw it die (or, when the whole worker died, the reaper on any other worker
once the run's lease has expired) records the lost attempt and lets RQ's retry policy
decide what happens next. Each lost attempt is recorded exactly once: the record is a
conditional update of a `running` row.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone
from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.registry import StartedJobRegistry

from generation import lifecycle, metrics
from generation.models import GenerationRun, RunStatus
from generation.queues import job_id_for, run_id_from_job_id

logger = logging.getLogger(__name__)

REAPER_LOCK = "drb:reaper:lock"


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
        retry_at = timezone.now() + timedelta(seconds=job.get_retry_interval())
    run = lifecycle.run_attempt_lost(
        run_id, reason=reason, will_retry=will_retry, retry_at=retry_at
    )
    if run is None:
        return False
    logger.warning("Run %s: attempt %s lost (%s)", run_id, run.attempts, reason)
    metrics.inc("runs_retried" if will_retry else "runs_failed")
    return True


def reap_expired_runs(connection: Redis) -> int:
    """Queue again (or fail) every run whose lease expired; returns how many were reaped.

    Only one worker reaps at a time. The run is retried at once rather than after the
    retry interval: its worker died, the run did nothing wrong.
    """
    lock = connection.lock(REAPER_LOCK, timeout=60, blocking=False)
    if not lock.acquire(blocking=False):
        return 0
    try:
        expired = GenerationRun.objects.filter(
            status=RunStatus.RUNNING, lease_expires_at__lt=timezone.now()
        ).values_list("pk", flat=True)
        return sum(_reap(connection, run_id) for run_id in list(expired[:100]))
    finally:
        lock.release()


def _reap(connection: Redis, run_id: int) -> bool:
    try:
        job = Job.fetch(job_id_for(run_id), connection=connection)
    except NoSuchJobError:
        return _fail_without_job(run_id)
    will_retry = job.should_retry
    lost = "worker lost: its lease expired"
    if not record_lost_attempt(job, reason=lost, will_retry=will_retry, retry_now=True):
        return False
    forget_execution(connection, job)
    with connection.pipeline() as pipe:
        if will_retry:
            job.retries_left = job.retries_left - 1
            Queue(job.origin, connection=connection).enqueue_job(job, pipeline=pipe)
        else:
            job.set_status(JobStatus.FAILED, pipeline=pipe)
            job.failed_job_registry.add(
                job,
                ttl=job.failure_ttl,
                exc_string="Worker lost: the run's lease expired",
                pipeline=pipe,
            )
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
    registry = StartedJobRegistry(job.origin, connection=connection)
    for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False):
        if job_id == job.id:
            registry.remove_execution(Execution(execution_id, job_id, connection=connection))
