"""Keep runs true when their RQ jobs are changed behind the app's back.

The django-rq dashboard (and RQ's own CLI) can requeue, delete or cancel a job directly in
Redis. Before such an operator action the dashboard wrapper takes a snapshot of every
generation job's status; afterwards `runs_sync_with_jobs` compares and moves each run
through the matching transition in `generation.runs.lifecycle`:

- a failed job now waiting again (requeue): its failed run is queued again;
- a waiting job now gone or canceled (delete, empty queue, cancel): its run is canceled,
  never left `queued` with no job behind it.

A requeued job that reaches a worker without passing through here (`rq requeue`) is
handled by the job itself (`generation.execution.jobs.generate_post`).
"""

from __future__ import annotations

from django.conf import settings
from redis import Redis
from rq.job import Job

from generation import queues, rq_private
from generation.execution import operator as operations
from generation.runs import lifecycle

WAITING = ("queued", "scheduled", "deferred")
JobStatuses = dict[str, str | None]


def jobs_snapshot(connection: Redis) -> JobStatuses:
    """job id → status of every generation job that waits or failed, in any queue."""
    ids: set[str] = set()
    for name in settings.RQ_QUEUE_NAMES:
        queue = queues.get_queue(name)
        ids.update(queue.get_job_ids())
        for registry in (
            queue.scheduled_job_registry,
            queue.deferred_job_registry,
            queue.failed_job_registry,
        ):
            ids.update(registry.get_job_ids(cleanup=False))
    generation_ids = sorted(i for i in ids if queues.run_id_from_job_id(i) is not None)
    return dict(zip(generation_ids, _statuses(connection, generation_ids), strict=True))


def _jobs(connection: Redis, job_ids: list[str]) -> list[Job | None]:
    return Job.fetch_many(job_ids, connection=connection)  # one round trip; None: gone


def _statuses(connection: Redis, job_ids: list[str]) -> list[str | None]:
    return [job.get_status(refresh=False) if job else None for job in _jobs(connection, job_ids)]


def runs_sync_with_jobs(connection: Redis, before: JobStatuses) -> dict[str, list[int]]:
    """Apply to the runs what happened to their jobs since `before`; returns the run ids
    requeued and canceled."""
    after = dict(zip(before, _jobs(connection, list(before)), strict=True))
    requeued: list[int] = []
    canceled: list[int] = []
    for job_id, was in before.items():
        job, run_id = after[job_id], queues.run_id_from_job_id(job_id)
        if run_id is None:  # not a run's job
            continue
        now = job.get_status(refresh=False) if job else None
        if job is not None and was == "failed" and now in WAITING:
            retries_left = rq_private.retries_left(job)
            if lifecycle.run_requeued_by_rq(run_id, retries_left=retries_left):
                requeued.append(run_id)
        elif was in WAITING and now in (None, "canceled"):
            canceled.append(run_id)
    return {"requeued": requeued, "canceled": operations.runs_cancel_jobless(canceled)}
