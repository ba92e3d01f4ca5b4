#!/usr/bin/env python
"""Posts per minute with 1, 2 and 4 workers, against stand-ins with a fixed latency.

The stand-in LLM answers every call after a fixed latency (default 1.0 s) and every
stand-in page takes PAGE_DELAY; each configuration queues POSTS_PER_WORKER posts per
worker, starts that many real `manage.py rqworker content --with-scheduler` processes and
times from the enqueue to the last post. It also samples each worker's memory (the worker
process, and its work-horse while one runs). The guide's rule is that 2 workers give 2x;
the targets are >= 1.8x at 2 workers and >= 3.2x at 4, on one Redis and one database.

Runs against a scratch PostgreSQL database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/drb_throughput_bench, created if missing) and the Redis
database BENCH_REDIS_URL (default redis://127.0.0.1:6379/11), which it flushes.
Usage: .venv/bin/python bench/throughput_bench.py [--latency 1.0] [--posts-per-worker 4]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import scratch_database  # noqa: E402
from standins.llm_server import LLMStandin  # noqa: E402
from standins.web import WebStandin  # noqa: E402
from standins.writer import WriterResponder  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
PAGE_DELAY = 0.3
WORKER_COUNTS = (1, 2, 4)


def settings_env(llm: LLMStandin, web: WebStandin) -> dict[str, str]:
    url = os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/drb_throughput_bench"
    )
    scratch_database(url)
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "DEBUG": "false",
        "LOG_DIR": str(ROOT / "logs" / "bench"),
        "LOG_LEVEL": "WARNING",
        "OPENAI_BASE_URL": llm.base_url,
        "OPENAI_API_KEY": "bench",
        "GENERATION_MODEL": "standin-writer",
        "GENERATION_FAST_MODEL": "standin-fast",
        "GENERATION_DEFAULT_AUTHOR": "bench",
        "RESEARCH_PROVIDERS": "searxng",
        "SEARXNG_URL": web.base_url,
        "RESEARCH_ALLOW_HOSTS": web.host_port,
    }


@dataclass
class Memory:
    """Largest RSS seen per kind of process, in MB."""

    worker: float = 0.0
    horse: float = 0.0
    stop: threading.Event = field(default_factory=threading.Event)

    def sample(self, pids: list[int]) -> None:
        while not self.stop.wait(0.25):
            for pid in pids:
                try:
                    process = psutil.Process(pid)
                    self.worker = max(self.worker, process.memory_info().rss / 2**20)
                    for child in process.children():
                        if child.name().startswith("python"):
                            self.horse = max(self.horse, child.memory_info().rss / 2**20)
                except psutil.Error:
                    continue


def start_workers(count: int, env: dict[str, str]) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "content", "--with-scheduler"],
            cwd=ROOT,
            env={**os.environ, **env, "LOG_FILE": f"worker-{n}.log"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for n in range(count)
    ]


def wait_for_workers(count: int) -> None:
    from rq.worker import Worker

    from generation import queues

    deadline = time.monotonic() + 60
    while len(Worker.all(connection=queues.get_queue().connection)) < count:
        if time.monotonic() > deadline:
            raise SystemExit("workers did not start")
        time.sleep(0.1)


def one_configuration(workers: int, posts: int, env: dict[str, str]) -> tuple[float, Memory]:
    """Seconds from enqueue to the last post, and the memory seen."""
    from generation import queues
    from generation.models import GenerationRun, RunStatus
    from generation.runs import service

    queues.get_queue().connection.flushdb()
    GenerationRun.objects.all().delete()
    processes = start_workers(workers, env)
    memory = Memory()
    sampler = threading.Thread(target=memory.sample, args=([p.pid for p in processes],))
    try:
        wait_for_workers(workers)
        sampler.start()
        started = time.monotonic()
        runs = service.enqueue_posts(count=posts, topic="LLM optimization")
        ids = [run.pk for run in runs]
        while GenerationRun.objects.filter(
            pk__in=ids, status__in=("queued", "running", "retrying")
        ).exists():
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        failed = GenerationRun.objects.filter(pk__in=ids).exclude(status=RunStatus.SUCCEEDED)
        if failed.exists():
            raise SystemExit(f"{failed.count()} run(s) did not succeed: {failed.first().errors}")
    finally:
        memory.stop.set()
        for process in processes:
            os.killpg(process.pid, 15)
        for process in processes:
            process.wait(timeout=60)
    return elapsed, memory


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per LLM call")
    parser.add_argument("--posts-per-worker", type=int, default=4)
    args = parser.parse_args()
    with (
        LLMStandin(WriterResponder(), latency=args.latency) as llm,
        WebStandin(page_delay=PAGE_DELAY) as web,
    ):
        env = settings_env(llm, web)
        os.environ.update(env)
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        get_user_model().objects.get_or_create(username="bench", defaults={"is_staff": True})
        print(
            f"LLM latency {args.latency}s per call, page delay {PAGE_DELAY}s, "
            f"{args.posts_per_worker} posts per worker, {os.cpu_count()} CPUs"
        )
        print("| workers | posts | seconds | posts/min | speed-up | worker MB | horse MB |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        base = None
        for workers in WORKER_COUNTS:
            posts = workers * args.posts_per_worker
            seconds, memory = one_configuration(workers, posts, env)
            rate = posts / seconds * 60
            base = base or rate
            print(
                f"| {workers} | {posts} | {seconds:.1f} | {rate:.1f} | {rate / base:.2f}x | "
                f"{memory.worker:.0f} | {memory.horse:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
