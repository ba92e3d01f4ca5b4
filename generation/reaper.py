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

from django.db import transaction
from django.utils import timezone
from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.registry import StartedJobRegistry

from generation import metrics
from generation.models import GenerationRun, RunStatus
from generation.queues import job_id_for, run_id_from_job_id
from generation.runs import error_entry

logger = logging.getLogger(__name__)

REAPER_LOCK = "drb:reaper:lock"


def record_lost_attempt(job: Job, *, reason: str, will_retry: bool) -> bool:
    """Record on a still-`running` run that its attempt died; False if already recorded."""
    run_id = run_id_from_job_id(job.id)
    if run_id is None:
        return False
    next_retry_at = None
    if will_retry:
        next_retry_at = timezone.now() + timedelta(seconds=job.get_retry_interval())
    with transaction.atomic():
        run = GenerationRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != RunStatus.RUNNING:
            return False
        run.errors = [
            *run.errors,
            error_entry(attempt=run.attempts, stage=run.stage, error=reason, kind="crash"),
        ]
        run.status = RunStatus.RETRYING if will_retry else RunStatus.FAILED
        run.next_retry_at = next_retry_at
        run.finished_at = None if will_retry else timezone.now()
        run.lease_token, run.lease_expires_at = "", None
        run.save(
            update_fields=[
                "errors",
                "status",
                "next_retry_at",
                "finished_at",
                "lease_token",
                "lease_expires_at",
            ]
        )
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
    if not record_lost_attempt(job, reason="worker lost: its lease expired", will_retry=will_retry):
        return False
    _forget_execution(connection, job)
    queue = Queue(job.origin, connection=connection)
    with connection.pipeline() as pipe:
        if will_retry:
            job.retries_left = job.retries_left - 1
            queue._enqueue_job(job, pipeline=pipe)
        else:
            job.set_status(JobStatus.FAILED, pipeline=pipe)
            job.failed_job_registry.add(
                job,
                ttl=job.failure_ttl,
                exc_string="Worker lost: the run's lease expired",
                pipeline=pipe,
            )
        pipe.execute()
    GenerationRun.objects.filter(pk=run_id, status=RunStatus.RETRYING).update(next_retry_at=None)
    return True


def _fail_without_job(run_id: int) -> bool:
    """A synchronous run (no RQ job) whose process died: it cannot be retried here."""
    with transaction.atomic():
        run = GenerationRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != RunStatus.RUNNING:
            return False
        run.errors = [
            *run.errors,
            error_entry(attempt=run.attempts, stage=run.stage, error="process lost", kind="crash"),
        ]
        run.status, run.finished_at = RunStatus.FAILED, timezone.now()
        run.lease_token, run.lease_expires_at = "", None
        run.save()
    metrics.inc("runs_failed")
    return True


def _forget_execution(connection: Redis, job: Job) -> None:
    """Drop the dead execution from the started registry so RQ does not retry it again."""
    registry = StartedJobRegistry(job.origin, connection=connection)
    stale = [
        entry
        for entry in connection.zrange(registry.key, 0, -1)
        if entry.decode().split(":", 1)[0] == job.id
    ]
    if stale:
        connection.zrem(registry.key, *stale)
