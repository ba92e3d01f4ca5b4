#!/usr/bin/env python
"""Benchmark the queue: enqueueing 1,000 runs, job pickup latency, worker cost per job.

(a) `manage.py generate_deep_research_bg --count 1000` timed as a subprocess (Django start-up
    included) and `generation.runs.service.enqueue_posts(count=1000)` timed in-process.
(b) Enqueue-to-start latency on an idle worker (`manage.py rqworker default
    --with-scheduler`, the project's GenerationWorker): 50 jobs, one at a time.
(c) Worker overhead per job: 200 no-op jobs, first start to last finish / 200, and the
    worker's RSS every 50 jobs.

Runs against a scratch PostgreSQL database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/drb_queue_bench, created if missing) and Redis db 12
(BENCH_REDIS_URL), which it flushes. Usage: .venv/bin/python bench/queue_bench.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import rq_worker, scratch_database  # noqa: E402

# Not db 13: tests/generation uses it for its worker tests (and 14 is pipeline_bench's).
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
ENQUEUE_COUNT = 1000
LATENCY_JOBS = 50
NOOP_JOBS = 200
RSS_EVERY = 50


def configure() -> None:
    url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/drb_queue_bench")
    scratch_database(url)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=url,
        REDIS_URL=REDIS_URL,
        SECRET_KEY="bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        DEBUG="false",
        LOG_DIR=str(ROOT / "logs" / "bench"),
        LOG_LEVEL="WARNING",
        GENERATION_MAX_BATCH=str(ENQUEUE_COUNT),
        GENERATION_DEFAULT_AUTHOR="bench",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def redis():
    import django_rq

    return django_rq.get_connection("default")


def reset() -> None:
    """Empty the bench's Redis db (only it) and the scratch database's runs."""
    from generation.models import GenerationRun

    redis().flushdb()
    GenerationRun.objects.all().delete()


def bench_enqueue() -> dict:
    from django.contrib.auth import get_user_model

    from generation.models import GenerationRun
    from generation.runs import service

    get_user_model().objects.get_or_create(username="bench")
    reset()
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "manage.py", "generate_deep_research_bg", "--count", str(ENQUEUE_COUNT)],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    command = time.perf_counter() - started
    queued = redis().llen("rq:queue:content")
    if queued != ENQUEUE_COUNT or GenerationRun.objects.count() != ENQUEUE_COUNT:
        sys.exit(f"command queued {queued} jobs, expected {ENQUEUE_COUNT}")
    reset()
    started = time.perf_counter()
    runs = service.enqueue_posts(count=ENQUEUE_COUNT)
    in_process = time.perf_counter() - started
    if len(runs) != ENQUEUE_COUNT or redis().llen("rq:queue:content") != ENQUEUE_COUNT:
        sys.exit("enqueue_posts did not queue every run")
    reset()
    return {"command": command, "in_process": in_process}


@contextmanager
def worker():
    """A real `manage.py rqworker default --with-scheduler`, ready once it registers."""
    with (
        open(ROOT / "logs" / "bench" / "queue_bench_worker.out", "w") as log,
        rq_worker(sys.executable, cwd=ROOT, connection=redis(), log=log) as proc,
    ):
        yield proc


def wait_finished(job, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while (status := job.get_status(refresh=True)) not in ("finished", "failed"):
        if time.monotonic() > deadline:
            sys.exit(f"job {job.id} still {status} after {timeout}s")
        time.sleep(0.002)
    if status == "failed":
        sys.exit(f"bench job {job.id} failed: {job.latest_result().exc_string}")


def bench_latency(queue) -> list[float]:
    from bench.bench_jobs import STARTS_KEY, record_start

    latencies = []
    for _ in range(LATENCY_JOBS):
        enqueued = time.time()
        job = queue.enqueue(record_start)
        wait_finished(job)
        latencies.append(float(redis().hget(STARTS_KEY, job.id)) - enqueued)
        time.sleep(0.1)  # back to idle: blocked on the queue again
    return latencies


def bench_overhead(queue, pid: int) -> dict:
    import psutil

    from bench.bench_jobs import ENDS_KEY, STARTS_KEY, noop

    process = psutil.Process(pid)
    rss = [process.memory_info().rss]
    jobs = []
    for _ in range(NOOP_JOBS // RSS_EVERY):
        batch = [queue.enqueue(noop) for _ in range(RSS_EVERY)]
        wait_finished(batch[-1], timeout=120)
        jobs += batch
        rss.append(process.memory_info().rss)
    for job in jobs:
        wait_finished(job)
    first = float(redis().hget(STARTS_KEY, jobs[0].id))
    last_in_job = float(redis().hget(ENDS_KEY, jobs[-1].id))
    last = jobs[-1]
    last.refresh()
    last_done = last.ended_at.timestamp() if last.ended_at else last_in_job
    return {"per_job": (max(last_done, last_in_job) - first) / NOOP_JOBS, "rss": rss}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    configure()
    import django_rq

    enqueue = bench_enqueue()
    reset()
    queue = django_rq.get_queue("default")
    with worker() as proc:
        latencies = bench_latency(queue)
        overhead = bench_overhead(queue, proc.pid)
    reset()
    rss_mb = [value / 1_048_576 for value in overhead["rss"]]
    growth = rss_mb[-1] - rss_mb[0]
    trend = "flat" if abs(growth) < 1 else ("growing" if growth > 0 else "shrinking")
    rows = [
        ("enqueue 1000: command (subprocess)", f"{enqueue['command']:.2f} s", "< 2 s"),
        ("enqueue 1000: enqueue_posts()", f"{enqueue['in_process']:.2f} s", "< 2 s"),
        ("pickup latency, median", f"{statistics.median(latencies) * 1000:.1f} ms", "< 100 ms"),
        ("pickup latency, p95", f"{percentile(latencies, 0.95) * 1000:.1f} ms", ""),
        ("worker overhead per no-op job", f"{overhead['per_job'] * 1000:.1f} ms", "< 50 ms"),
        ("worker RSS every 50 jobs", " ".join(f"{mb:.1f}" for mb in rss_mb) + " MB", trend),
    ]
    width = max(len(row[0]) for row in rows)
    print(f"{'measure':<{width}}  {'result':<32}  target")
    for name, result, target in rows:
        print(f"{name:<{width}}  {result:<32}  {target}")


if __name__ == "__main__":
    main()
