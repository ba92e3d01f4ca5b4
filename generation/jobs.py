"""RQ jobs and their callbacks: fetch the run by id and call the service, nothing else.

The callbacks keep the run's status, next retry time and error history in step with
what RQ decides (retry after the next interval, or failed for good).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone
from rq import get_current_job
from rq.job import Job

from generation import reaper, scheduling, service
from generation.exceptions import GenerationError, RunNotClaimable
from generation.models import GenerationRun, RunStatus
from generation.queues import run_id_from_job_id

logger = logging.getLogger(__name__)


def generate_post(run_id: int) -> int | None:
    """Generate the post of run `run_id`; returns the post id (None when nothing to do).

    A run that already succeeded, was canceled, or is held by another live execution is
    a no-op: re-delivered or duplicated jobs never make a second post.
    """
    state = GenerationRun.objects.filter(pk=run_id).values("status", "post_id").first()
    if state is None or state["status"] in (RunStatus.SUCCEEDED, RunStatus.CANCELED):
        logger.info("Run %s: nothing to do (%s)", run_id, state and state["status"])
        return state and state["post_id"]
    job = get_current_job()
    try:
        return service.run_generation(run_id, worker_name=job.worker_name if job else "").post_id
    except RunNotClaimable as exc:
        logger.info("Run %s: not run here: %s", run_id, exc)
        return None


def on_success(job: Job, connection, result, *args, **kwargs) -> None:
    run_id = run_id_from_job_id(job.id)
    GenerationRun.objects.filter(pk=run_id, status=RunStatus.SUCCEEDED).update(next_retry_at=None)


def on_failure(job: Job, connection, exc_type, exc_value, traceback) -> None:
    """Runs in the work-horse before RQ decides on a retry (same job object)."""
    if isinstance(exc_value, GenerationError) and exc_value.permanent:
        job.retries_left = 0  # retrying cannot help: RQ fails the job for good
    will_retry = job.should_retry
    reason = f"{getattr(exc_type, '__name__', 'Error')}: {exc_value}"
    if reaper.record_lost_attempt(job, reason=reason, will_retry=will_retry):
        return  # the pipeline never got to record it (timeout before start, abandoned job)
    run_id = run_id_from_job_id(job.id)
    if will_retry:
        next_at = timezone.now() + timedelta(seconds=job.get_retry_interval())
        fields = {"status": RunStatus.RETRYING, "next_retry_at": next_at, "finished_at": None}
    else:
        fields = {"status": RunStatus.FAILED, "next_retry_at": None, "finished_at": timezone.now()}
    GenerationRun.objects.filter(
        pk=run_id, status__in=[RunStatus.RETRYING, RunStatus.FAILED]
    ).update(**fields)


def on_stopped(job: Job, connection) -> None:
    """An operator stopped the job (rq stop-job): the run fails, without retries."""
    reaper.record_lost_attempt(job, reason="stopped by an operator", will_retry=False)


def schedules_tick() -> int:
    """The periodic job (generation.periodic): turn schedules' due occurrences into runs."""
    return len(scheduling.schedules_tick())
