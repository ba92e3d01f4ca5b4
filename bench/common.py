"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def scratch_database(url: str) -> None:
    """Create the scratch database named in `url` if it does not exist."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def standin_django(
    llm_url: str, web_url: str, web_host_port: str, *, log_level: str = "WARNING", **settings: str
) -> None:
    """Point Django at a scratch database (BENCH_DATABASE_URL, created if missing), a bench
    Redis database (BENCH_REDIS_URL) and the loopback stand-ins (the LLM at `llm_url`, the
    SearXNG-style web at `web_url`), with `settings` as further environment variables;
    then set Django up and migrate. Every bench that runs the pipeline in-process starts here."""
    url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/drb_bench")
    scratch_database(url)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=url,
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
        SECRET_KEY="bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        LOG_DIR=str(Path(__file__).resolve().parent.parent / "logs" / "bench"),
        LOG_LEVEL=log_level,
        OPENAI_BASE_URL=llm_url,
        OPENAI_API_KEY="bench",
        GENERATION_MODEL="standin-writer",
        GENERATION_FAST_MODEL="standin-fast",
        RESEARCH_PROVIDERS="searxng",
        SEARXNG_URL=web_url,
        RESEARCH_ALLOW_HOSTS=web_host_port,
        **settings,
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


@contextmanager
def rq_worker(
    python: str, *, cwd: Path, connection, env: dict | None = None, log: IO | int | None = None
) -> Iterator[subprocess.Popen]:
    """A real `manage.py rqworker default --with-scheduler`, yielded once it registered and
    blocks on its queue; stopped (SIGTERM, then SIGKILL) afterwards."""
    from rq import Worker

    out = subprocess.DEVNULL if log is None else log
    proc = subprocess.Popen(
        [python, "manage.py", "rqworker", "default", "--with-scheduler"],
        cwd=cwd,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(w.pid == proc.pid for w in Worker.all(connection=connection)):
            if proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the worker in {cwd} did not start (exit {proc.poll()})")
            time.sleep(0.05)
        time.sleep(0.5)  # let it finish its first maintenance pass and block on the queue
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
