"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

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
