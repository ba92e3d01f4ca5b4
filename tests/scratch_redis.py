"""A throwaway redis-server on a free loopback port, for tests that take Redis away."""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from contextlib import closing


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ScratchRedis:
    """`start()` / `stop()` a private redis-server; `url` stays the same across restarts.

    With `appendonly=True` every write is in the append-only file before Redis answers
    (`appendfsync always`), so a restart, even after SIGKILL, keeps every acknowledged job.
    """

    def __init__(self, *, appendonly: bool = False) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="scratch-redis-")
        self.appendonly = appendonly
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/1"

    def start(self) -> ScratchRedis:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                *self._persistence(),
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("scratch redis-server did not start")

    def _persistence(self) -> list[str]:
        if not self.appendonly:
            return ["--appendonly", "no"]
        return ["--appendonly", "yes", "--appendfsync", "always"]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
