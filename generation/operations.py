"""Operator actions on runs: retry failed runs, cancel waiting ones.

Reached through `generation.service` by the admin's actions and by `queue_retry`.

Both change the database first (the source of truth) and touch Redis after the commit,
through the same queue plumbing the service uses.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from generation import queues
from generation.exceptions import QueueUnavailable
from generation.models import GenerationRun, RunStatus
from generation.runs import checkpoints_for_retry

logger = logging.getLogger(__name__)

CANCELABLE = (RunStatus.QUEUED, RunStatus.RETRYING)


@dataclass(frozen=True)
class CancelResult:
    canceled: int
    skipped: int
    jobs_removed: bool = True


def runs_retry(run_ids: Iterable[int]) -> int:
    """Queue the failed runs among `run_ids` again, from their last checkpoint.

    Each gets a fresh set of attempts (its error history stays); a run that failed for
    want of evidence redoes its research instead of resuming from the thin result. The
    jobs reach Redis after the commit. Returns how many were re-queued; raises
    QueueUnavailable, with the runs left failed, when Redis is unreachable.
    """
    queues.ensure_reachable()
    with transaction.atomic():
        runs = list(
            GenerationRun.objects.select_for_update()
            .filter(pk__in=list(run_ids), status=RunStatus.FAILED)
            .only("pk", "queue_name", "checkpoints", "errors")
        )
        _restart_stages(runs)
        GenerationRun.objects.filter(pk__in=[run.pk for run in runs]).update(
            status=RunStatus.QUEUED,
            attempts=0,
            next_retry_at=None,
            finished_at=None,
            lease_token="",
            lease_expires_at=None,
        )
    by_queue: dict[str, list[int]] = defaultdict(list)
    for run in runs:
        by_queue[run.queue_name].append(run.pk)
    transaction.on_commit(lambda: _push_all_or_undo(by_queue))
    logger.info("Retried %s failed run(s): %s", len(runs), [run.pk for run in runs])
    return len(runs)


def _restart_stages(runs: list[GenerationRun]) -> None:
    for run in runs:
        kept = checkpoints_for_retry(run.checkpoints, run.errors)
        if kept != run.checkpoints:
            GenerationRun.objects.filter(pk=run.pk).update(checkpoints=kept)


def _push_all_or_undo(by_queue: dict[str, list[int]]) -> None:
    for queue_name, ids in by_queue.items():
        _push_again_or_undo(ids, queue_name=queue_name)


def _push_again_or_undo(run_ids: list[int], *, queue_name: str) -> None:
    """Replace each run's old (failed) job with a fresh one; on failure, fail the runs again."""
    try:
        connection = queues.get_queue(queue_name).connection
        for run_id in run_ids:
            _job_delete(connection, queues.job_id_for(run_id))
        queues.push_runs(run_ids, queue_name=queue_name)
    except (QueueUnavailable, RedisError, OSError) as exc:
        GenerationRun.objects.filter(pk__in=run_ids, status=RunStatus.QUEUED).update(
            status=RunStatus.FAILED, finished_at=timezone.now()
        )
        if isinstance(exc, QueueUnavailable):
            raise
        raise QueueUnavailable(
            f"Redis is unreachable at {queues.redis_url_display()} ({exc}); nothing was queued."
        ) from exc


def _job_delete(connection, job_id: str) -> None:
    with contextlib.suppress(NoSuchJobError):  # expired or flushed: nothing to replace
        Job.fetch(job_id, connection=connection).delete()


def runs_cancel(run_ids: Iterable[int]) -> CancelResult:
    """Cancel the queued and retrying runs among `run_ids` and withdraw their RQ jobs.

    Running and finished runs are skipped (a running one would be cut mid-write). Should
    Redis be unreachable the runs are still canceled: a worker that picks up their jobs
    finds them canceled and does nothing.
    """
    ids = list(run_ids)
    with transaction.atomic():
        runs = list(
            GenerationRun.objects.select_for_update()
            .filter(pk__in=ids, status__in=CANCELABLE)
            .only("pk", "queue_name")
        )
        GenerationRun.objects.filter(pk__in=[run.pk for run in runs]).update(
            status=RunStatus.CANCELED, next_retry_at=None, finished_at=timezone.now()
        )
    removed = _jobs_cancel(runs)
    logger.info("Canceled %s run(s): %s", len(runs), [run.pk for run in runs])
    return CancelResult(canceled=len(runs), skipped=len(set(ids)) - len(runs), jobs_removed=removed)


def _jobs_cancel(runs: list[GenerationRun]) -> bool:
    """Take the runs' jobs out of their queues and scheduled registries; False if Redis failed."""
    try:
        for run in runs:
            connection = queues.get_queue(run.queue_name).connection
            try:
                Job.fetch(queues.job_id_for(run.pk), connection=connection).cancel()
            except (NoSuchJobError, InvalidJobOperation):
                continue  # no job left to withdraw, or already canceled
    except (RedisError, OSError) as exc:
        logger.warning("Canceled runs' jobs could not be withdrawn from Redis: %s", exc)
        return False
    return True


def run_requeued_by_rq(run_id: int, *, retries_left: int = 0) -> bool:
    """A failed run whose own RQ job an operator requeued (django-rq dashboard, `rq requeue`).

    The run is `queued` again from its last checkpoint. Unlike `runs_retry` its attempts
    keep counting and its error history stays as it is: it is allowed one more attempt,
    plus whatever retries RQ still holds for the job. False when the run was not failed.
    """
    with transaction.atomic():
        run = GenerationRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != RunStatus.FAILED:
            return False
        run.status = RunStatus.QUEUED
        run.max_attempts = run.attempts + 1 + max(retries_left, 0)
        run.finished_at = run.next_retry_at = None
        run.lease_token, run.lease_expires_at = "", None
        run.save(
            update_fields=[
                "status",
                "max_attempts",
                "finished_at",
                "next_retry_at",
                "lease_token",
                "lease_expires_at",
            ]
        )
    logger.info("Run %s: its failed job was requeued in RQ; queued again", run_id)
    return True


def runs_cancel_jobless(run_ids: Iterable[int]) -> list[int]:
    """Cancel the waiting runs among `run_ids` whose job was deleted or canceled in Redis
    (dashboard, `rq empty`): without a job nothing would ever run them."""
    ids = list(run_ids)
    with transaction.atomic():
        canceled = list(
            GenerationRun.objects.select_for_update()
            .filter(pk__in=ids, status__in=CANCELABLE)
            .values_list("pk", flat=True)
        )
        GenerationRun.objects.filter(pk__in=canceled).update(
            status=RunStatus.CANCELED, next_retry_at=None, finished_at=timezone.now()
        )
    if canceled:
        logger.info("Canceled run(s) %s: their job was removed from Redis", canceled)
    return canceled


def run_wait_for_budget(run_id: int, *, until) -> bool:
    """A waiting run held back by the daily budget: it stays queued (or retrying), no
    attempt counted, and shows when it looks again. False if it no longer waits."""
    with transaction.atomic():
        updated = (
            GenerationRun.objects.select_for_update()
            .filter(pk=run_id, status__in=CANCELABLE)
            .update(next_retry_at=until)
        )
    if updated:
        logger.info("Run %s waits for the daily budget until %s", run_id, until.isoformat())
    return bool(updated)


@dataclass(frozen=True)
class EmptyResult:
    queue: str
    runs_canceled: int
    jobs_deleted: int


def queue_empty(queue_name: str) -> EmptyResult:
    """Take every waiting job off `queue_name`: generation runs are canceled (their jobs
    withdrawn), any other job is deleted. Running and scheduled jobs are left alone."""
    queue = queues.get_queue(queue_name)
    job_ids = queue.get_job_ids()
    run_ids = [rid for rid in map(queues.run_id_from_job_id, job_ids) if rid is not None]
    canceled = runs_cancel(run_ids).canceled if run_ids else 0
    deleted = 0
    for job_id in job_ids:
        if queues.run_id_from_job_id(job_id) is None:
            with contextlib.suppress(NoSuchJobError):
                Job.fetch(job_id, connection=queue.connection).delete()
                deleted += 1
    # What is left is jobs of runs that were no longer waiting (already running elsewhere,
    # finished): their workers find nothing to do, so they go too.
    deleted += queue.empty() or 0
    logger.info(
        "Emptied queue %s: %s run(s) canceled, %s job(s) deleted", queue_name, canceled, deleted
    )
    return EmptyResult(queue=queue_name, runs_canceled=canceled, jobs_deleted=deleted)


def runs_requeue_orphaned(*, older_than_seconds: int = 60) -> list[int]:
    """Queue again the waiting runs whose job no longer exists in Redis (Redis lost its
    data, a job deleted outside the dashboard). Runs younger than `older_than_seconds` are
    left alone: their job may be on its way. Returns the run ids queued again."""
    queues.ensure_reachable()
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    waiting = list(
        GenerationRun.objects.filter(status__in=CANCELABLE, created_at__lt=cutoff).values_list(
            "pk", "queue_name"
        )
    )
    connection = queues.get_queue("default").connection
    with connection.pipeline() as pipe:
        for run_id, _ in waiting:
            pipe.exists(Job.key_for(queues.job_id_for(run_id)))
        exists = pipe.execute()
    by_queue: dict[str, list[int]] = defaultdict(list)
    for (run_id, queue_name), present in zip(waiting, exists, strict=True):
        if not present:
            by_queue[queue_name].append(run_id)
    for queue_name, ids in by_queue.items():
        queues.push_runs(ids, queue_name=queue_name)
    orphaned = [run_id for ids in by_queue.values() for run_id in ids]
    if orphaned:
        logger.warning("Queued again run(s) %s: their jobs were missing from Redis", orphaned)
    return orphaned
