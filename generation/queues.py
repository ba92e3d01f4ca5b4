"""Redis and RQ plumbing: reachability, the job for a run, pushing many jobs at once."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import django_rq
from django.conf import settings
from redis.exceptions import RedisError
from rq import Callback, Retry
from rq.job import Job
from rq.queue import Queue

from generation.exceptions import QueueUnavailable

JOB_FUNC = "generation.jobs.generate_post"


def redis_url_display(url: str | None = None) -> str:
    """The Redis URL without its password, fit for messages and logs (with Sentinel: the
    master's name and the sentinels)."""
    if url is None and settings.REDIS_SENTINELS:
        sentinels = ",".join(f"{host}:{port}" for host, port in settings.REDIS_SENTINELS)
        return f"sentinel master {settings.REDIS_SENTINEL_MASTER} via {sentinels}"
    parts = urlsplit(url or settings.REDIS_URL)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def get_queue(name: str = "content") -> Queue:
    return django_rq.get_queue(name)


def ensure_reachable() -> None:
    """Raise QueueUnavailable, in one line, unless Redis answers a PING."""
    try:
        django_rq.get_connection("default").ping()
    except (RedisError, OSError) as exc:
        raise QueueUnavailable(
            f"Redis is unreachable at {redis_url_display()} ({exc}); nothing was queued. "
            "Start it with `redis-server` or `docker compose up -d redis`."
        ) from exc


def job_id_for(run_id: int) -> str:
    return f"generation-run-{run_id}"


def run_id_from_job_id(job_id: str) -> int | None:
    prefix = "generation-run-"
    return int(job_id[len(prefix) :]) if job_id.startswith(prefix) else None


def retry_policy() -> Retry | None:
    intervals = settings.GENERATION_RETRY_INTERVALS
    return Retry(max=len(intervals), interval=intervals) if intervals else None


def build_job(queue: Queue, run_id: int) -> Job:
    """The RQ job of a run: its only argument is the run id; its id derives from it."""
    return queue.create_job(
        JOB_FUNC,
        args=(run_id,),
        job_id=job_id_for(run_id),
        timeout=settings.GENERATION_JOB_TIMEOUT,
        retry=retry_policy(),
        description=f"generate_post(run_id={run_id})",
        result_ttl=86_400,
        failure_ttl=30 * 86_400,
        on_success=Callback("generation.jobs.on_success"),
        on_failure=Callback("generation.jobs.on_failure"),
        on_stopped=Callback("generation.jobs.on_stopped"),
    )


def push_runs(run_ids: list[int], *, queue_name: str, at: datetime | None = None) -> list[Job]:
    """Enqueue (or schedule, with `at`) one job per run in a single Redis round trip."""
    queue = get_queue(queue_name)
    if at is not None and at.microsecond:
        # RQ keeps whole seconds and drops the fraction: round up so no job starts early.
        at = at.replace(microsecond=0) + timedelta(seconds=1)
    try:
        with queue.connection.pipeline() as pipe:
            jobs = [build_job(queue, run_id) for run_id in run_ids]
            for job in jobs:
                if at is None:
                    queue.enqueue_job(job, pipeline=pipe)
                else:
                    queue.schedule_job(job, at, pipeline=pipe)
            pipe.execute()
    except (RedisError, OSError) as exc:
        raise QueueUnavailable(
            f"Redis is unreachable at {redis_url_display()} ({exc}); nothing was queued."
        ) from exc
    return jobs
