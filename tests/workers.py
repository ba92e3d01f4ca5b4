"""Real `manage.py rqworker` processes for tests, and a patient wait."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Settings that make retries, leases and the reaper fast enough for tests.
FAST = {
    "GENERATION_RETRY_INTERVALS": "1,1,1",
    "GENERATION_LEASE_SECONDS": "3",
    "GENERATION_HEARTBEAT_SECONDS": "1",
    "GENERATION_REAPER_INTERVAL": "1",
    "GENERATION_LLM_MAX_RETRIES": "0",
}


def start_worker(
    env: dict[str, str], *args: str, queues: tuple[str, ...] = ("content",)
) -> subprocess.Popen:
    """A worker process with the scheduler (needed for delays and retries)."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", *queues, "--with-scheduler", *args],
        cwd=ROOT,
        env={**env, "LOG_FILE": "worker.log"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, so tests can kill it whole
    )


def stop(process: subprocess.Popen, *, sig: int = signal.SIGKILL) -> None:
    """Kill a worker and what is left of its process group (its scheduler), even when the
    worker itself is already dead (a crash test killed it)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


@contextlib.contextmanager
def running_worker(env: dict[str, str], *args: str, **kwargs) -> Iterator[subprocess.Popen]:
    process = start_worker(env, *args, **kwargs)
    try:
        yield process
    finally:
        stop(process)


def wait_for(predicate: Callable[[], object], *, timeout: float = 30, every: float = 0.1):
    """Poll until `predicate()` is truthy; return its value or fail with the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(every)


# Keys a running worker owns: its registration, its queues' worker sets and its scheduler's
# locks. A test next to the shared worker (below) empties Redis but for these.
WORKER_KEY_PREFIXES = (b"rq:worker:", b"rq:workers", b"rq:scheduler-lock:")


def empty_but_workers(connection) -> None:
    """Delete every key of this database except those of the running workers."""
    doomed = [k for k in connection.scan_iter(count=1000) if not k.startswith(WORKER_KEY_PREFIXES)]
    if doomed:
        connection.delete(*doomed)


class SharedWorker:
    """One worker process (FAST settings, `content` queue, with its scheduler) that the tests
    which need only "a worker" share, instead of each starting its own.

    It stays up while such tests follow one another (their files are one xdist group, see
    tests/xdist_groups.py) and is stopped before any other test runs, so no other test sees
    a worker it did not start. The crash and shutdown tests start their own.
    """

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None

    def start(self, env: dict[str, str]) -> subprocess.Popen:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"the shared worker died (exit {self.process.returncode})")
        if self.process is None:
            self.process = start_worker({**env, **FAST})
        return self.process

    @property
    def running(self) -> bool:
        return self.process is not None

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
            self.process = None


def drain_queue(name: str = "content") -> None:
    """Run every job waiting on queue `name` in this process (RQ's SimpleWorker, burst):
    for tests that need a job's effect rather than a worker process's behaviour."""
    from rq import SimpleWorker

    from generation import queues

    queue = queues.get_queue(name)
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
