"""RQ jobs and their callbacks: fetch the run by id and call the service, nothing else.

The callbacks keep the run's status, next retry time and error history in step with
what RQ decides (retry after the next interval, or failed for good).
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from django.db import close_old_connections
from django.utils import timezone
from redis import Redis
from rq import get_current_job
from rq.job import Job

from blog.models import Post
from generation import rq_private
from generation.exceptions import GenerationError, RunNotClaimable
from generation.execution import reaper, service
from generation.models import GenerationRun, RunStatus
from generation.operations import alerts, budget, metrics, notifications, review_digest
from generation.queues import run_id_from_job_id
from generation.runs import lifecycle

logger = logging.getLogger(__name__)

WAITING = (RunStatus.QUEUED, RunStatus.RETRYING)


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
    if job is not None and job.enqueued_at is not None:
        metrics.observe("queue_wait_seconds", _waited(job), queue=job.origin)
    if state["status"] == RunStatus.FAILED and job is not None:
        # Only an operator's requeue in RQ (dashboard, `rq requeue`) runs a failed run's job.
        lifecycle.run_requeued_by_rq(run_id, retries_left=rq_private.retries_left(job))
    # The budget's gate, as the run starts executing: delayed, scheduled, retried and
    # requeued runs all pass here, whenever they were asked for.
    if job is not None and not budget.budget_allows_runs() and _waiting(run_id):
        _wait_for_budget(job, run_id)
        return None
    try:
        return service.run_generation(
            run_id, worker_name=(job.worker_name or "") if job else ""
        ).post_id
    except RunNotClaimable as exc:
        logger.info("Run %s: not run here: %s", run_id, exc)
        return None


def _waiting(run_id: int) -> bool:
    return GenerationRun.objects.filter(pk=run_id, status__in=WAITING).exists()


def _waited(job: Job) -> float:
    assert job.enqueued_at is not None  # RQ sets it before a worker takes the job
    enqueued = job.enqueued_at.replace(tzinfo=job.enqueued_at.tzinfo or UTC)
    return max((datetime.now(UTC) - enqueued).total_seconds(), 0.0)


def _wait_for_budget(job: Job, run_id: int) -> None:
    """Today's budget is spent: the run stays waiting, without an attempt or a failure, and
    its job comes back at the next check (RQ's own repeat of this same job)."""
    until = budget.next_budget_check()
    rq_private.repeat_once_in(job, max(1, math.ceil((until - timezone.now()).total_seconds())))
    lifecycle.run_wait_for_budget(run_id, until=until, note=budget.wait_note(until))
    alerts.alert_budget()


def on_success(job: Job, connection: Redis, result: Any, *args: Any, **kwargs: Any) -> None:
    run_id = run_id_from_job_id(job.id)
    if run_id is None:  # not a run's job: nothing to tell
        return
    made_post = GenerationRun.objects.filter(
        pk=run_id, status=RunStatus.SUCCEEDED, post__isnull=False
    ).exists()
    if made_post and result is not None:
        notifications.post_ready_enqueue(run_id)
        if Post.objects.filter(generation_run=run_id, status=Post.Status.IN_REVIEW).exists():
            review_digest.review_digest_enqueue()


def on_failure(
    job: Job,
    connection: Redis,
    exc_type: type[BaseException],
    exc_value: BaseException,
    traceback: TracebackType | None,
) -> None:
    """Runs in the work-horse before RQ decides on a retry (same job object)."""
    # The attempt may have failed because the database dropped the connection (a restart,
    # pg_terminate_backend): reconnect, or the failure would go unrecorded.
    close_old_connections()
    if isinstance(exc_value, GenerationError) and exc_value.permanent:
        rq_private.retries_stop(job)  # retrying cannot help: RQ fails the job for good
    will_retry = rq_private.will_retry(job)
    reason = f"{getattr(exc_type, '__name__', 'Error')}: {exc_value}"
    if reaper.record_lost_attempt(job, reason=reason, will_retry=will_retry):  # counts it too
        return  # the pipeline never got to record it (timeout before start, abandoned job)
    retry_at = None
    if will_retry:
        retry_at = timezone.now() + timedelta(seconds=rq_private.retry_interval(job))
    run_id = run_id_from_job_id(job.id)
    if run_id is not None and lifecycle.run_retry_decided(run_id, retry_at=retry_at):
        metrics.inc("runs_retried" if will_retry else "runs_failed")


def on_stopped(job: Job, connection: Redis) -> None:
    """An operator stopped the job (django-rq's "Stop job", `rq stop-job`, queue_stop): the
    run is canceled with its checkpoints kept (already done when queue_stop asked)."""
    run_id = run_id_from_job_id(job.id)
    if run_id is not None:
        close_old_connections()
        lifecycle.runs_stop([run_id], reason="stopped by an operator (RQ stop-job)")
