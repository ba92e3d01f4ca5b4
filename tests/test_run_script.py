"""`make run` (scripts/run.py): it says which Redis it uses, starts a private redis-server
when none answers, and Ctrl-C stops every child and exits 0 with one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import psutil
import pytest

from scripts.run import redis_for_run
from tests.scratch_redis import free_port
from tests.workers import ROOT, wait_for


class Output:
    """A process's output lines, read as they come."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.reader.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError as exc:
        return getattr(exc, "code", 0) > 0  # an HTTP error is an answer


def test_ctrl_c_stops_every_child_and_exits_0_in_one_line(worker_env, tmp_path):
    port, nothing_there = free_port(), free_port()
    env = {
        **worker_env,
        "REDIS_URL": f"redis://127.0.0.1:{nothing_there}/0",  # installed, not running
        "PORT": str(port),
        "LOG_DIR": str(tmp_path),
    }
    run = subprocess.Popen(
        [sys.executable, "scripts/run.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the terminal's foreground group: Ctrl-C goes to all of it
    )
    out = Output(run.stdout)
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/"), timeout=90)
        family = psutil.Process(run.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in family)
        for part in ("runserver", "rqworker content", "rqworker email", "rqscheduler"):
            assert part in names
        assert "redis-server" in names
        wait_for(lambda: any(line.startswith("Ctrl-C stops it") for line in out.lines))
        # The web server logs the request that found it up; that line may still be on its
        # way. What comes after Ctrl-C is counted from once it is in (or 5 s have passed).
        served = time.monotonic() + 5
        while time.monotonic() < served and not any('"GET / ' in line for line in out.lines):
            time.sleep(0.05)
        before = len(out.lines)
        os.killpg(run.pid, signal.SIGINT)
        assert run.wait(timeout=60) == 0
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    out.reader.join(timeout=10)
    _, alive = psutil.wait_procs(family, timeout=10)
    assert alive == []
    assert out.lines[before:] == ["stopped"]
    redis_line = next(line for line in out.lines if line.startswith("Redis:"))
    assert f"nothing answers at redis://127.0.0.1:{nothing_there}/0" in redis_line
    assert "private redis-server" in redis_line and "database 0" in redis_line


def test_a_running_redis_is_named_with_its_database(capsys):
    from django.conf import settings

    with redis_for_run({"REDIS_URL": settings.REDIS_URL}) as url:
        assert url == settings.REDIS_URL
    database = settings.REDIS_URL.rsplit("/", 1)[1]
    assert f"database {database} (REDIS_URL)" in capsys.readouterr().out


def test_without_redis_server_it_says_how_to_install_one(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    url = f"redis://127.0.0.1:{free_port()}/0"
    refused = pytest.raises(SystemExit, match=r"apt-get install redis-server")
    with refused as info, redis_for_run({"REDIS_URL": url}):
        pass
    assert "\n" not in str(info.value)
