#!/usr/bin/env python
"""Benchmark the schedules' tick: what the periodic job costs, idle and firing.

(a) A tick over 100 enabled schedules with nothing due (the common case, every minute).
(b) A tick over 100 schedules that are all due: 100 occurrences, 100 runs, 100 jobs.
(c) Four concurrent ticks over 100 due schedules: time, and occurrences/runs/jobs made
    (each must be 100: one per occurrence).
(d) Due-time math: occurrences per second of "*/5 * * * *" in America/New_York.

Runs against a scratch PostgreSQL database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/drb_schedule_bench, created if missing) and Redis db 12
(BENCH_REDIS_URL), which it flushes. Usage: .venv/bin/python bench/schedule_bench.py
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import scratch_database  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
SCHEDULES = 100
IDLE_TICKS = 20
THREADS = 4


def configure() -> None:
    url = os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/drb_schedule_bench"
    )
    scratch_database(url)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=url,
        REDIS_URL=REDIS_URL,
        SECRET_KEY="bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        DEBUG="false",
        LOG_DIR=str(ROOT / "logs" / "bench"),
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def reset(*, effective_from: datetime) -> None:
    """Empty the bench's Redis db (only it); SCHEDULES fresh daily-09:00 schedules."""
    import django_rq
    from django.contrib.auth import get_user_model

    from generation.models import GenerationRun, GenerationSchedule

    django_rq.get_connection("default").flushdb()
    GenerationRun.objects.all().delete()
    GenerationSchedule.objects.all().delete()
    author, _ = get_user_model().objects.get_or_create(username="bench", is_staff=True)
    GenerationSchedule.objects.bulk_create(
        GenerationSchedule(
            name=f"bench-{i}",
            enabled=True,
            cron="0 9 * * *",
            timezone="America/New_York",
            author=author,
            without_overlapping=False,
            effective_from=effective_from,
        )
        for i in range(SCHEDULES)
    )


def counts() -> tuple[int, int, int]:
    import django_rq

    from generation.models import GenerationRun, ScheduleOccurrence

    return (
        ScheduleOccurrence.objects.count(),
        GenerationRun.objects.count(),
        len(set(django_rq.get_queue("content").job_ids)),
    )


def bench_idle() -> float:
    from generation.scheduling.service import schedules_tick

    reset(effective_from=datetime(2026, 1, 5, 15, tzinfo=UTC))  # after 09:00 New York
    timings = []
    for minute in range(IDLE_TICKS):
        start = time.perf_counter()
        schedules_tick(now=datetime(2026, 1, 5, 16, minute, tzinfo=UTC))
        timings.append(time.perf_counter() - start)
    return statistics.median(timings) * 1000


def bench_firing() -> tuple[float, tuple[int, int, int]]:
    from generation.scheduling.service import schedules_tick

    reset(effective_from=datetime(2026, 1, 5, tzinfo=UTC))
    start = time.perf_counter()
    schedules_tick(now=datetime(2026, 1, 5, 14, 0, 30, tzinfo=UTC))  # 09:00 EST, due
    return (time.perf_counter() - start) * 1000, counts()


def bench_concurrent() -> tuple[float, tuple[int, int, int]]:
    from django.db import connection

    from generation.scheduling.service import schedules_tick

    reset(effective_from=datetime(2026, 1, 5, tzinfo=UTC))
    barrier = threading.Barrier(THREADS)

    def tick() -> None:
        barrier.wait()
        schedules_tick(now=datetime(2026, 1, 5, 14, 0, 30, tzinfo=UTC))
        connection.close()

    threads = [threading.Thread(target=tick) for _ in range(THREADS)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (time.perf_counter() - start) * 1000, counts()


def bench_math() -> float:
    from zoneinfo import ZoneInfo

    from generation.cron import occurrences_after

    walk = occurrences_after(
        "*/5 * * * *", ZoneInfo("America/New_York"), datetime(2026, 3, 1, tzinfo=UTC)
    )
    start, made = time.perf_counter(), 0
    for instant in walk:
        made += 1
        if instant > datetime(2026, 3, 1, tzinfo=UTC) + timedelta(days=30):
            break
    return made / (time.perf_counter() - start)


def main() -> None:
    configure()
    idle = bench_idle()
    print(f"(a) idle tick, {SCHEDULES} enabled, none due: {idle:.1f} ms (median of {IDLE_TICKS})")
    firing_ms, made = bench_firing()
    per = firing_ms / SCHEDULES
    print(f"(b) tick, {SCHEDULES} due: {firing_ms:.0f} ms ({per:.1f} ms per occurrence)")
    print(f"    occurrences/runs/jobs = {made}")
    concurrent_ms, made = bench_concurrent()
    print(f"(c) {THREADS} concurrent ticks, {SCHEDULES} due: {concurrent_ms:.0f} ms")
    print(f"    occurrences/runs/jobs = {made}")
    rate = bench_math()
    print(f"(d) due-time math: {rate:,.0f} occurrences/s ('*/5 * * * *', America/New_York)")


if __name__ == "__main__":
    main()
