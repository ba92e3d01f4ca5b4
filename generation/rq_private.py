"""Every use of RQ's private or undocumented API, in one place (RQ 3.0).

RQ documents enqueueing, workers and registries; what this project also needs is below:
building a job without enqueueing it and pushing many in one pipeline, changing a job's
retries and repeats from a callback, retrying or failing a job by hand (the reaper), and
the worker methods it overrides. Nothing else in the project calls these, and
tests/generation/test_rq_contract.py pins each one, so an RQ upgrade that changes them
fails there, by name, before it fails in production.

Our own state never lives in RQ's underscore namespace: `WorkerEdge` keeps it under
`ours`, and hands each RQ hook to a public method of ours (`on_*`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis import Redis
from redis.client import Pipeline
from rq import Callback, Retry
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.registry import StartedJobRegistry
from rq.worker import Worker

# --- jobs: build and push (Queue.create_job, enqueue_job, schedule_job) ---------------


def job_build(
    queue: Queue,
    func: str,
    *,
    args: tuple[Any, ...],
    job_id: str,
    timeout: int,
    retry: Retry | None,
    description: str,
    result_ttl: int,
    failure_ttl: int,
    callbacks: tuple[str, str, str],
) -> Job:
    """A job saved nowhere yet, to be pushed with others in one round trip."""
    on_success, on_failure, on_stopped = callbacks
    return queue.create_job(
        func,
        args=args,
        job_id=job_id,
        timeout=timeout,
        retry=retry,
        description=description,
        result_ttl=result_ttl,
        failure_ttl=failure_ttl,
        on_success=Callback(on_success),
        on_failure=Callback(on_failure),
        on_stopped=Callback(on_stopped),
    )


def job_push(queue: Queue, job: Job, *, at: datetime | None, pipeline: Pipeline) -> None:
    """Enqueue `job` now, or schedule it for `at` (RQ's own scheduler moves it when due)."""
    if at is None:
        queue.enqueue_job(job, pipeline=pipeline)
    else:
        queue.schedule_job(job, at, pipeline=pipeline)


# --- jobs: retries and repeats (Job.retries_left, repeats_left, repeat_intervals) ------


def retries_left(job: Job) -> int:
    return job.retries_left or 0


def retries_stop(job: Job) -> None:
    """From an on_failure callback: RQ fails the job for good instead of retrying it."""
    job.retries_left = 0


def will_retry(job: Job) -> bool:
    return job.should_retry


def retry_interval(job: Job) -> int:
    """Seconds RQ waits before the next retry of `job`."""
    return job.get_retry_interval()


def repeat_once_in(job: Job, seconds: int) -> None:
    """From inside the job: RQ runs this same job once more, `seconds` from now."""
    job.repeats_left = 1
    job.repeat_intervals = [seconds]


# --- the reaper's retry and fail by hand -----------------------------------------------


def job_retry_now(connection: Redis, job: Job, *, pipeline: Pipeline) -> None:
    """Spend one retry and put the job back on its queue at once (its worker died)."""
    job.retries_left = retries_left(job) - 1
    Queue(job.origin, connection=connection).enqueue_job(job, pipeline=pipeline)


def job_fail(job: Job, *, reason: str, pipeline: Pipeline) -> None:
    """Mark the job failed and put it in its queue's failed registry (retryable there)."""
    job.set_status(JobStatus.FAILED, pipeline=pipeline)
    job.failed_job_registry.add(job, ttl=job.failure_ttl, exc_string=reason, pipeline=pipeline)


def execution_forget(connection: Redis, job: Job) -> None:
    """Drop the job's dead execution from the started registry so RQ does not retry it."""
    registry = StartedJobRegistry(job.origin, connection=connection)
    for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False):
        if job_id == job.id:
            registry.remove_execution(Execution(execution_id, job_id, connection=connection))


# --- the worker ------------------------------------------------------------------------

# Worker.__init__ keywords the project sets (pinned by the contract test).
WORKER_INIT_KEYWORDS = ("maintenance_interval", "job_monitoring_interval")


@dataclass
class WorkerState:
    """What our worker remembers, outside RQ's attribute namespace."""

    parent_pid: int = 0  # the worker's pid, as the horse saw it when forked
    in_work_loop: bool = False  # past start-up: the first check before a dequeue ran


class WorkerEdge(Worker):
    """RQ's Worker with every overridden method, private ones included, in one class.

    Each override calls RQ and hands the moment to a public `on_*` method that the
    project's worker (`generation.execution.worker.GenerationWorker`) fills in.
    """

    def __init__(self, *args: Any, maintenance_interval: int, **kwargs: Any) -> None:
        kwargs["maintenance_interval"] = maintenance_interval
        kwargs.setdefault("job_monitoring_interval", min(30, maintenance_interval))
        super().__init__(*args, **kwargs)
        self.ours = WorkerState()

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        # Stock RQ registers the worker (and subscribes to commands) before it installs its
        # signal handlers, so a queue_restart or SIGTERM in that window killed it with a
        # KeyboardInterrupt (exit 1). Install them first; `_shutdown` notes early requests.
        self._install_signal_handlers()
        self.on_bootstrap()
        super().bootstrap(*args, **kwargs)

    def _shutdown(self) -> None:
        if not self.ours.in_work_loop:
            self._stop_requested = True  # the work loop checks it before its first dequeue
            return
        super()._shutdown()

    def check_for_suspension(self, burst: bool) -> None:
        # Called before every dequeue: the job boundary, and where RQ's suspend holds it.
        self.ours.in_work_loop = True
        self.on_job_boundary()
        if self.on_suspension_applies():
            super().check_for_suspension(burst)

    def register_birth(self) -> None:
        super().register_birth()
        self.on_birth()

    def fork_work_horse(self, job: Job, queue: Queue) -> None:
        self.on_fork()
        self.ours.parent_pid = os.getpid()
        super().fork_work_horse(job, queue)

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        self.on_horse_start()
        super().main_work_horse(job, queue)

    def handle_job_failure(
        self,
        job: Job,
        queue: Queue,
        started_job_registry: Any = None,
        exc_string: str = "",
        execution: Any = None,
    ) -> None:
        super().handle_job_failure(
            job,
            queue,
            started_job_registry,
            exc_string=self.on_failure_text(exc_string),
            execution=execution,
        )

    def handle_work_horse_killed(self, job: Job, retpid: int, ret_val: int, rusage: Any) -> None:
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        self.on_horse_killed(job, ret_val)

    @property
    def dequeue_timeout(self) -> int:
        return max(1, min(super().dequeue_timeout, self.on_dequeue_timeout_cap()))

    def maintain_heartbeats(self, job: Job, execution: Any) -> None:
        # Called every job_monitoring_interval while a horse works: busy workers maintain too.
        super().maintain_heartbeats(job, execution)
        if self.should_run_maintenance_tasks:
            self.run_maintenance_tasks()

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()
        self.on_maintenance()

    # Our hooks: no-ops here, filled in by the project's worker.
    def on_bootstrap(self) -> None: ...
    def on_job_boundary(self) -> None: ...
    def on_fork(self) -> None: ...
    def on_horse_start(self) -> None: ...
    def on_horse_killed(self, job: Job, ret_val: int) -> None: ...
    def on_maintenance(self) -> None: ...
    def on_birth(self) -> None: ...

    def on_suspension_applies(self) -> bool:
        return True

    def on_failure_text(self, exc_string: str) -> str:
        return exc_string

    def on_dequeue_timeout_cap(self) -> int:
        return super().dequeue_timeout
