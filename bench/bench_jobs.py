"""Bench-only RQ jobs for bench/queue_bench.py: they record when they ran, nothing else."""

from __future__ import annotations

import time

from rq import get_current_job

STARTS_KEY = "bench:starts"
ENDS_KEY = "bench:ends"


def record_start() -> float:
    """Store this job's start time (epoch seconds) under its id; the bench reads it back."""
    now = time.time()
    job = get_current_job()
    job.connection.hset(STARTS_KEY, job.id, repr(now))
    return now


def noop() -> None:
    """Do nothing but note start and end, so the bench sees the worker's own cost per job."""
    job = get_current_job()
    job.connection.hset(STARTS_KEY, job.id, repr(time.time()))
    job.connection.hset(ENDS_KEY, job.id, repr(time.time()))
