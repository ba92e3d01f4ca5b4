#!/usr/bin/env python
"""Start-up, side by side: two checkouts of the project measured in one run, interleaved.

For each checkout (its own .venv, database and Redis database), every round measures:

- `django.setup()` with the project's settings: seconds (inside the process, from before
  `import django` to after setup) and the process's peak RSS;
- `manage.py queue_status`: wall time of the command, as an operator runs it;
- `manage.py generate_deep_research_bg --count 1000`: wall time (1,000 runs written and
  queued; checked in Redis);
- worker overhead per job: a real `manage.py rqworker default --with-scheduler` runs 200
  no-op jobs (bench/bench_jobs.py); first start to last finish / 200; and the worker's RSS.

Rounds alternate the checkouts, so both see the same load. Each checkout's database is
created and migrated if needed; its runs are deleted and its Redis database is flushed
before each enqueue and worker measure (so give each checkout a database of its own).

    .venv/bin/python bench/startup_bench.py \\
        --before /work/wt/baseline-13 postgres://postgres@127.0.0.1:5432/wt13base \\
            redis://127.0.0.1:6379/9 \\
        --after . postgres://postgres@127.0.0.1:5432/wt12 redis://127.0.0.1:6379/10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import rq_worker, scratch_database  # noqa: E402

ENQUEUE_COUNT = 1000
NOOP_JOBS = 200

SETUP = """
import json, os, resource, time
started = time.perf_counter()
import django
django.setup()
seconds = time.perf_counter() - started
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "rss_mb": rss}))
"""

PREPARE = """
import django
django.setup()
from django.contrib.auth import get_user_model
from django.core.management import call_command
call_command("migrate", verbosity=0)
get_user_model().objects.get_or_create(username="bench")
"""


@dataclass
class Checkout:
    label: str
    path: Path
    database_url: str
    redis_url: str
    figures: dict[str, list[float]] = field(default_factory=dict)

    @property
    def python(self) -> str:
        return str(self.path / ".venv" / "bin" / "python")

    def env(self) -> dict[str, str]:
        return {
            "PATH": "/usr/bin:/bin",
            "HOME": os.environ.get("HOME", str(ROOT)),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "DEBUG": "false",
            "LOG_DIR": str(self.path / "logs" / "bench"),
            "LOG_LEVEL": "WARNING",
            "GENERATION_MAX_BATCH": str(ENQUEUE_COUNT),
            "GENERATION_DEFAULT_AUTHOR": "bench",
        }

    def run(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.python, *args],
            cwd=self.path,
            env=self.env(),
            check=True,
            capture_output=True,
            text=True,
            **kwargs,
        )

    def record(self, name: str, value: float) -> None:
        self.figures.setdefault(name, []).append(value)

    def redis(self):
        import redis

        return redis.Redis.from_url(self.redis_url)

    def reset(self) -> None:
        """This checkout's runs deleted and its Redis database (only it) emptied."""
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute("DELETE FROM generation_researchsource")
            conn.execute("DELETE FROM generation_generationrun")
        self.redis().flushdb()


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure_setup(checkout: Checkout) -> None:
    figures = json.loads(checkout.run("-c", SETUP).stdout.strip().splitlines()[-1])
    checkout.record("django.setup() s", figures["seconds"])
    checkout.record("django.setup() RSS MB", figures["rss_mb"])


def measure_queue_status(checkout: Checkout) -> None:
    checkout.record("queue_status s", timed(lambda: checkout.run("manage.py", "queue_status")))


def measure_enqueue(checkout: Checkout) -> None:
    checkout.reset()
    command = ("manage.py", "generate_deep_research_bg", "--count", str(ENQUEUE_COUNT))
    checkout.record("bg --count 1000 s", timed(lambda: checkout.run(*command)))
    queued = checkout.redis().llen("rq:queue:content")
    if queued != ENQUEUE_COUNT:
        sys.exit(f"{checkout.label}: the command queued {queued} jobs, not {ENQUEUE_COUNT}")
    checkout.reset()


def measure_worker(checkout: Checkout) -> None:
    import psutil
    from rq import Queue

    checkout.reset()
    connection = checkout.redis()
    env = checkout.env()
    with rq_worker(checkout.python, cwd=checkout.path, connection=connection, env=env) as proc:
        checkout.record("worker RSS MB", psutil.Process(proc.pid).memory_info().rss / 1_048_576)
        per_job = _noop_jobs(Queue("default", connection=connection))
        checkout.record("worker overhead per job ms", per_job)
    checkout.reset()


def _noop_jobs(queue) -> float:
    jobs = [queue.enqueue("bench.bench_jobs.noop") for _ in range(NOOP_JOBS)]
    deadline = time.monotonic() + 120
    while jobs[-1].get_status(refresh=True) != "finished":
        if time.monotonic() > deadline:
            sys.exit("the no-op jobs did not finish")
        time.sleep(0.01)
    starts = queue.connection.hgetall("bench:starts")
    first = min(float(starts[job.id.encode()]) for job in jobs)
    jobs[-1].refresh()
    return (jobs[-1].ended_at.timestamp() - first) / NOOP_JOBS * 1000


MEASURES = {
    "setup": measure_setup,
    "queue_status": measure_queue_status,
    "enqueue": measure_enqueue,
    "worker": measure_worker,
}


def summary(values: list[float]) -> str:
    median = statistics.median(values)
    return f"{median:8.2f} ({min(values):.2f}-{max(values):.2f})"


def report(before: Checkout, after: Checkout) -> None:
    width = max(len(name) for name in before.figures)
    print(f"{'measure':<{width}}  {'before: median (range)':<24}  {'after':<24}  after/before")
    for name, values in before.figures.items():
        theirs = after.figures[name]
        ratio = statistics.median(theirs) / statistics.median(values)
        print(f"{name:<{width}}  {summary(values):<24}  {summary(theirs):<24}  {ratio:.2f}")


def checkout_of(label: str, values: list[str]) -> Checkout:
    path, database_url, redis_url = values
    return Checkout(label, Path(path).resolve(), database_url, redis_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", nargs=3, metavar=("PATH", "DATABASE_URL", "REDIS_URL"))
    parser.add_argument("--after", nargs=3, metavar=("PATH", "DATABASE_URL", "REDIS_URL"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--only", nargs="+", choices=list(MEASURES), default=list(MEASURES), help="Measures to run."
    )
    args = parser.parse_args()
    if not args.before or not args.after:
        parser.error("give --before and --after: PATH DATABASE_URL REDIS_URL each")
    checkouts = [checkout_of("before", args.before), checkout_of("after", args.after)]
    for checkout in checkouts:
        scratch_database(checkout.database_url)
        checkout.run("-c", PREPARE)
    for round_number in range(args.rounds):
        for measure in (MEASURES[name] for name in args.only):
            # Alternate which checkout goes first, so neither always runs on a warmer cache.
            for checkout in checkouts if round_number % 2 == 0 else checkouts[::-1]:
                measure(checkout)
        print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
    report(*checkouts)


if __name__ == "__main__":
    main()
