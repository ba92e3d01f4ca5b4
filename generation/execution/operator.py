"""Operator writes: retry failed runs, cancel waiting ones, failed-job tools, restarts.

The admin's actions, the `queue_*` commands and the dashboard's bookkeeping call these.
A run's status changes through `generation.runs.lifecycle` (the database first, the source of
truth); Redis is touched after the commit, through the same queue plumbing the service
uses. The matching reads live in `generation.operations.monitoring`.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from redis import Redis
from redis.exceptions import RedisError
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from generation import queues
from generation.exceptions import InvalidRequest, QueueUnavailable
from generation.execution import worker
from generation.models import GenerationRun, RunStatus
from generation.pipeline import checkpoints
from generation.runs import lifecycle

logger = logging.getLogger(__name__)

AGE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


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
        runs = lifecycle.runs_retry(run_ids, kept=checkpoints.kept_for_retry)
    by_queue: dict[str, list[int]] = defaultdict(list)
    for run in runs:
        by_queue[run.queue_name].append(run.pk)
    transaction.on_commit(lambda: _push_all_or_undo(by_queue))
    logger.info("Retried %s failed run(s): %s", len(runs), [run.pk for run in runs])
    return len(runs)


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
        lifecycle.runs_retry_undone(run_ids)
        if isinstance(exc, QueueUnavailable):
            raise
        raise QueueUnavailable(
            f"Redis is unreachable at {queues.redis_url_display()} ({exc}); nothing was queued."
        ) from exc


def _job_delete(connection: Redis, job_id: str) -> None:
    with contextlib.suppress(NoSuchJobError):  # expired or flushed: nothing to replace
        Job.fetch(job_id, connection=connection).delete()


def runs_cancel(run_ids: Iterable[int]) -> CancelResult:
    """Cancel the queued and retrying runs among `run_ids` and withdraw their RQ jobs.

    Running and finished runs are skipped (a running one would be cut mid-write). Should
    Redis be unreachable the runs are still canceled: a worker that picks up their jobs
    finds them canceled and does nothing.
    """
    ids = list(run_ids)
    runs = lifecycle.runs_cancel(ids)
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


def runs_cancel_jobless(run_ids: Iterable[int]) -> list[int]:
    """Cancel the waiting runs among `run_ids` whose job was deleted or canceled in Redis
    (dashboard, `rq empty`): without a job nothing would ever run them."""
    canceled = [run.pk for run in lifecycle.runs_cancel(run_ids)]
    if canceled:
        logger.info("Canceled run(s) %s: their job was removed from Redis", canceled)
    return canceled


@dataclass(frozen=True)
class StopResult:
    stopped: list[int]
    skipped: int
    jobs_stopped: bool = True


STOP_REASON = "stopped by an operator"


def runs_stop(run_ids: Iterable[int], *, by: str = "") -> StopResult:
    """Stop the running runs among `run_ids`: each is canceled, keeping its checkpoints (a
    retry resumes from its last finished stage), then its worker kills the work-horse (RQ's
    `send_stop_job_command`). The database moves first, under the run's lock: a horse about
    to publish either published already (the run is not stopped) or can publish nothing.
    Waiting and finished runs are skipped (Cancel is for waiting ones)."""
    ids = list(dict.fromkeys(run_ids))
    reason = f"{STOP_REASON} ({by})" if by else STOP_REASON
    runs = lifecycle.runs_stop(ids, reason=reason)
    stopped = _jobs_stop(runs)
    logger.info("Stopped %s running run(s): %s", len(runs), [run.pk for run in runs])
    return StopResult(
        stopped=[run.pk for run in runs], skipped=len(ids) - len(runs), jobs_stopped=stopped
    )


def _jobs_stop(runs: list[GenerationRun]) -> bool:
    """Ask each run's worker to kill its horse; False if Redis failed. A job no worker is
    executing (its worker just died) has nothing to stop: the run is canceled all the same."""
    try:
        for run in runs:
            connection = queues.get_queue(run.queue_name).connection
            with contextlib.suppress(NoSuchJobError, InvalidJobOperation):
                send_stop_job_command(connection, queues.job_id_for(run.pk))
    except (RedisError, OSError) as exc:
        logger.warning("Stopped runs' jobs could not be reached in Redis: %s", exc)
        return False
    return True


@dataclass(frozen=True)
class EmptyResult:
    queue: str
    runs_canceled: int
    jobs_deleted: int
    delayed_removed: int = 0  # delayed and retrying jobs taken off too (with_delayed)
    delayed_left: int = 0  # delayed and retrying jobs left in place (they run when due)


def queue_empty(queue_name: str, *, with_delayed: bool = False) -> EmptyResult:
    """Take every waiting job off `queue_name`: generation runs are canceled (their jobs
    withdrawn), any other job is deleted. Running jobs are left alone; delayed and retrying
    ones (RQ's scheduled registry) too, unless `with_delayed`."""
    queue = queues.get_queue(queue_name)
    job_ids = queue.get_job_ids()
    canceled, deleted = _take_off(queue, job_ids)
    # What is left is jobs of runs that were no longer waiting (already running elsewhere,
    # finished): their workers find nothing to do, so they go too.
    deleted += queue.empty() or 0
    registry = queue.scheduled_job_registry
    delayed = registry.get_job_ids(cleanup=False)
    removed = 0
    if with_delayed and delayed:
        delayed_canceled, delayed_deleted = _take_off(queue, delayed)
        canceled += delayed_canceled
        for job_id in registry.get_job_ids(cleanup=False):  # runs no longer waiting
            registry.remove(job_id, delete_job=True)
        removed = len(delayed) - len(registry.get_job_ids(cleanup=False))
        deleted += delayed_deleted
    logger.info(
        "Emptied queue %s: %s run(s) canceled, %s job(s) deleted, %s delayed left",
        queue_name,
        canceled,
        deleted,
        len(delayed) - removed,
    )
    return EmptyResult(
        queue=queue_name,
        runs_canceled=canceled,
        jobs_deleted=deleted,
        delayed_removed=removed,
        delayed_left=len(delayed) - removed,
    )


def _take_off(queue: Any, job_ids: list[str]) -> tuple[int, int]:
    """Cancel the runs of the generation jobs among `job_ids`, delete the other jobs;
    returns (runs canceled, other jobs deleted)."""
    run_ids = [rid for rid in map(queues.run_id_from_job_id, job_ids) if rid is not None]
    canceled = runs_cancel(run_ids).canceled if run_ids else 0
    deleted = 0
    for job_id in job_ids:
        if queues.run_id_from_job_id(job_id) is None:
            with contextlib.suppress(NoSuchJobError):
                Job.fetch(job_id, connection=queue.connection).delete()
                deleted += 1
    return canceled, deleted


# --- Failed jobs and workers (the queue_* commands) ---------------------------------------


@dataclass
class RetryResult:
    requeued: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def failed_retry(job_ids: Iterable[str] | None = None) -> RetryResult:
    """Queue failed jobs again: those named, or all of them with None.

    A generation job's run goes back to `queued` with a fresh set of attempts (the full
    GENERATION_RETRY_INTERVALS policy; its error history stays) and resumes at its last
    checkpoint: the same path as the admin's "retry" action. Any other job is requeued as
    RQ does it (`FailedJobRegistry.requeue`). Ids that name no failed job are reported in
    `missing`.
    """
    located = _failed_locations()
    result = RetryResult()
    for job_id in list(located) if job_ids is None else list(dict.fromkeys(job_ids)):
        (result.requeued if job_id in located else result.missing).append(job_id)
    _requeue(located, result.requeued)
    return result


def _failed_locations() -> dict[str, str]:
    """job id → queue name for every failed job."""
    located = {}
    for name in settings.RQ_QUEUE_NAMES:
        for job_id in queues.get_queue(name).failed_job_registry.get_job_ids(cleanup=False):
            located[job_id] = name
    return located


def _requeue(located: dict[str, str], job_ids: list[str]) -> None:
    run_ids = {
        queues.run_id_from_job_id(job_id): job_id
        for job_id in job_ids
        if queues.run_id_from_job_id(job_id) is not None
    }
    failed_runs = set(
        GenerationRun.objects.filter(pk__in=run_ids, status=RunStatus.FAILED).values_list(
            "pk", flat=True
        )
    )
    if failed_runs:
        runs_retry(failed_runs)
    for job_id in job_ids:
        if queues.run_id_from_job_id(job_id) not in failed_runs:
            _requeue_plain(located[job_id], job_id)


def _requeue_plain(queue_name: str, job_id: str) -> None:
    registry = queues.get_queue(queue_name).failed_job_registry
    try:
        registry.requeue(job_id)
    except (NoSuchJobError, InvalidJobOperation):  # its hash expired: nothing to run
        registry.remove(job_id)


def failed_flush(older_than: timedelta | None = None) -> int:
    """Delete failed jobs (those that failed longer ago than `older_than`); returns how many.

    The runs keep their record (status failed, every attempt's error).
    """
    cutoff = timezone.now() - older_than if older_than else None
    deleted = 0
    for name in settings.RQ_QUEUE_NAMES:
        registry = queues.get_queue(name).failed_job_registry
        for job_id in registry.get_job_ids(cleanup=False):
            deleted += _flush_one(registry, job_id, cutoff)
    return deleted


def _flush_one(registry: Any, job_id: str, cutoff: datetime | None) -> int:
    try:
        job = Job.fetch(job_id, connection=registry.connection)
    except NoSuchJobError:
        registry.remove(job_id)
        return 1
    if cutoff is not None and job.ended_at is not None and job.ended_at > cutoff:
        return 0
    registry.remove(job, delete_job=True)
    return 1


def parse_age(text: str) -> timedelta:
    """'7d', '12h', '30m', '45s' or '2w' as a timedelta; InvalidRequest otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text or "")
    if not match:
        raise InvalidRequest(
            f"--older-than must be a number and a unit (s, m, h, d or w), like 7d; got {text!r}."
        )
    return timedelta(**{AGE_UNITS[match[2]]: int(match[1])})


def workers_restart() -> list[str]:
    """Every worker stops after its current job (idle ones at once); returns their names."""
    return worker.request_restart(queues.get_queue("default").connection)
