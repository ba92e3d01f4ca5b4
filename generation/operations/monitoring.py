"""What the queues hold and who works them: reads only (the writes live in operations.py).

The `queue_*` commands are thin doors into these functions. Reads never clean up RQ's
registries (a cleanup runs failure callbacks; that is the workers' job, not a status
command's). Generation jobs are recognised by their id (`generation-run-<id>`) and shown
with their run; any other job on the queues is handled the way stock RQ would.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.queue import Queue
from rq.worker import BaseWorker, Worker

from generation import queues
from generation.models import GenerationRun

# Workers heartbeat at least every GENERATION_REAPER_INTERVAL; this much silence is death.
SILENT_AFTER = 90


@dataclass(frozen=True)
class QueueCounts:
    name: str
    waiting: int
    running: int
    scheduled: int
    failed: int


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    queues: list[str]
    state: str
    pid: int | None
    hostname: str
    job_id: str | None
    run_id: int | None
    last_seen_seconds: float | None
    alive: bool


@dataclass(frozen=True)
class FailedJob:
    job_id: str
    queue: str
    run_id: int | None
    topic: str
    error: str
    failed_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["failed_at"] = self.failed_at.isoformat() if self.failed_at else None
        return data


def connection() -> Redis:
    return queues.get_queue("default").connection


def _queue(name: str) -> Queue:
    return queues.get_queue(name)


def queue_counts(names: Iterable[str] | None = None) -> list[QueueCounts]:
    """Per queue: jobs waiting, running, scheduled (delays and retries) and failed."""
    result = []
    for name in names or settings.RQ_QUEUE_NAMES:
        queue = _queue(name)
        result.append(
            QueueCounts(
                name=name,
                waiting=queue.count,
                running=queue.started_job_registry.get_job_count(cleanup=False),
                scheduled=queue.scheduled_job_registry.get_job_count(cleanup=False),
                failed=queue.failed_job_registry.get_job_count(cleanup=False),
            )
        )
    return result


def queue_overview() -> dict[str, Any]:
    """Queues and workers, JSON-ready: what `queue_status` shows."""
    return {
        "queues": [asdict(counts) for counts in queue_counts()],
        "workers": [asdict(info) for info in workers_list()],
    }


def workers_list() -> list[WorkerInfo]:
    """Registered workers with what they run now; `alive` is False once they fall silent."""
    now = timezone.now()
    infos = [_worker_info(item, now) for item in Worker.all(connection=connection())]
    return sorted(infos, key=lambda info: info.name)


def _worker_info(item: BaseWorker, now: datetime) -> WorkerInfo:
    job_id = item.get_current_job_id()
    seen = item.last_heartbeat
    age = (now - seen.replace(tzinfo=seen.tzinfo or UTC)).total_seconds() if seen else None
    return WorkerInfo(
        name=item.name,
        queues=item.queue_names(),
        state=str(item.get_state()),
        pid=item.pid,
        hostname=item.hostname or "",
        job_id=job_id,
        run_id=queues.run_id_from_job_id(job_id) if job_id else None,
        last_seen_seconds=round(age, 1) if age is not None else None,
        alive=age is not None and age < SILENT_AFTER,
    )


def failed_jobs(names: Iterable[str] | None = None) -> list[FailedJob]:
    """Every job in the failed registries, newest failure first."""
    found = []
    for name in names or settings.RQ_QUEUE_NAMES:
        registry = _queue(name).failed_job_registry
        for job_id in registry.get_job_ids(cleanup=False):
            found.append(_failed_job(registry.connection, name, job_id))
    runs = _runs_of(job.run_id for job in found)
    found = [
        _with_run(job, runs.get(job.run_id) if job.run_id is not None else None) for job in found
    ]
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(found, key=lambda job: job.failed_at or oldest, reverse=True)


def _failed_job(redis: Redis, queue_name: str, job_id: str) -> FailedJob:
    try:
        job = Job.fetch(job_id, connection=redis)
    except NoSuchJobError:  # the registry outlived the job's hash
        return FailedJob(job_id, queue_name, queues.run_id_from_job_id(job_id), "", "", None)
    return FailedJob(
        job_id=job_id,
        queue=queue_name,
        run_id=queues.run_id_from_job_id(job_id),
        topic="",
        error=_last_line(_job_error(job)),
        failed_at=job.ended_at,
    )


def _job_error(job: Job) -> str:
    # A job failed without a worker (the reaper) has no result: its run's record says why.
    result = job.latest_result()
    return result.exc_string or "" if result is not None else ""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _runs_of(run_ids: Iterable[int | None]) -> dict[int, GenerationRun]:
    ids = {run_id for run_id in run_ids if run_id is not None}
    return GenerationRun.objects.only("pk", "topic", "errors").in_bulk(ids)


def _with_run(job: FailedJob, run: GenerationRun | None) -> FailedJob:
    """The run's own record of its last error beats RQ's traceback."""
    if run is None:
        return job
    error = run.errors[-1]["error"] if run.errors else job.error
    return FailedJob(job.job_id, job.queue, job.run_id, run.topic, _last_line(error), job.failed_at)


@dataclass(frozen=True)
class WaitingJob:
    job_id: str
    queue: str
    run_id: int | None
    topic: str
    description: str
    enqueued_at: datetime | None
    waited_seconds: float | None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["enqueued_at"] = self.enqueued_at.isoformat() if self.enqueued_at else None
        return data


def waiting_jobs(names: Iterable[str] | None = None, *, limit: int = 500) -> list[WaitingJob]:
    """The jobs waiting in each queue, in the order workers will take them."""
    found = []
    now = datetime.now(UTC)
    for name in names or settings.RQ_QUEUE_NAMES:
        queue = _queue(name)
        for job in queue.get_jobs(0, limit - 1):
            at = job.enqueued_at
            enqueued = at.replace(tzinfo=at.tzinfo or UTC) if at else None
            waited = round((now - enqueued).total_seconds(), 1) if enqueued else None
            run_id = queues.run_id_from_job_id(job.id)
            found.append(
                WaitingJob(job.id, name, run_id, "", job.description or "", enqueued, waited)
            )
    runs = _runs_of(job.run_id for job in found)
    return [
        WaitingJob(**{**asdict(job), "topic": runs[job.run_id].topic})
        if job.run_id in runs
        else job
        for job in found
    ]
