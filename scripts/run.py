#!/usr/bin/env python
"""`make run`: prepare the site and run it with its worker and scheduler until Ctrl-C.

Creates .env on first run (DEBUG on, a fresh SECRET_KEY), checks Redis, migrates,
creates a first admin user when there is none, and starts the offline demo's stand-ins
when no LLM endpoint is configured. Children: web (runserver), worker
(`rqworker content video default email --with-scheduler`), an email/ops worker
(`rqworker email default`: mails, schedule ticks and health checks never wait behind a
post) and the scheduler (`rqscheduler`).

Redis: REDIS_URL (default redis://127.0.0.1:6379/0); it says which database it uses. When
nothing answers on a loopback address and `redis-server` is installed, it starts a private
one on a free port for its own processes (gone when `make run` stops); without it, it says
how to install one. Ctrl-C (or SIGTERM) stops every child and ends with one line, "stopped".
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import environ  # noqa: E402
import redis  # noqa: E402

from standins.demo import BANNER, DemoUnavailable, demo_standins, needs_demo  # noqa: E402

PY = sys.executable
MANAGE = [PY, str(ROOT / "manage.py")]


def ensure_env_file() -> None:
    env_file = ROOT / ".env"
    if not env_file.exists():
        env_file.write_text(
            "# Written by `make run` for local development; see .env.example for every knob.\n"
            f"DEBUG=true\nSECRET_KEY={secrets.token_urlsafe(50)}\n"
            "GENERATION_DEFAULT_AUTHOR=admin\n"
        )
        print(f"Created {env_file.name} for local development.")
    environ.Env.read_env(env_file, overwrite=False)


DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
INSTALL_REDIS = (
    "install it (Debian/Ubuntu: `sudo apt-get install redis-server`; macOS: "
    "`brew install redis`) or run `docker compose up -d redis`, then `make run` again"
)


def _answers(url: str) -> bool:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except (redis.RedisError, OSError):
        return False
    return True


def _database(url: str) -> str:
    return (urlsplit(url).path.strip("/") or "0").split("?")[0]


@contextlib.contextmanager
def redis_for_run(env: dict[str, str]) -> Iterator[str]:
    """The Redis URL the site's processes use: REDIS_URL when it answers; else, on a
    loopback address with `redis-server` installed, a private server for this session."""
    url = env.get("REDIS_URL") or DEFAULT_REDIS_URL
    shown = url.split("@")[-1]
    if _answers(url):
        print(f"Redis: {shown}, database {_database(url)} (REDIS_URL).")
        yield url
        return
    local = urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")
    server = shutil.which("redis-server")
    if not (local and server):
        why = "" if local else " (not a loopback address, so no private one is started)"
        sys.exit(f"Redis is not reachable at {shown}{why}: {INSTALL_REDIS}.")
    with _private_redis(server) as private:
        print(
            f"Redis: nothing answers at {shown}, so a private redis-server runs at {private} "
            "for this session, database 0 (its queues go when `make run` stops)."
        )
        yield private


@contextlib.contextmanager
def _private_redis(server: str) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="drb-redis-") as folder:
        args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", folder]
        process = subprocess.Popen([server, *args], stdout=subprocess.DEVNULL, process_group=0)
        url = f"redis://127.0.0.1:{port}/0"
        try:
            deadline = time.monotonic() + 10
            while not _answers(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"The private redis-server did not start on port {port}.")
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


def prepare(env: dict[str, str]) -> None:
    subprocess.run([*MANAGE, "migrate", "--noinput"], env=env, check=True)
    subprocess.run([*MANAGE, "ensure_admin"], env=env, check=True)


CHILDREN = {
    "web": ["runserver", "--noreload"],
    "worker": ["rqworker", "content", "video", "default", "email", "--with-scheduler"],
    "email-worker": ["rqworker", "email", "default", "--with-scheduler"],
    "scheduler": ["rqscheduler"],
}


class Child:
    """One process of the site, in its own process group (so Ctrl-C reaches only this
    supervisor, which stops them all), its output passed on until the stop begins."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], quiet: threading.Event):
        self.name = name
        self.process = subprocess.Popen(
            [*MANAGE, *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            process_group=0,
        )
        self.relay = threading.Thread(target=_relay, args=(self.process.stdout, quiet), daemon=True)
        self.relay.start()

    def alive(self) -> bool:
        return self.process.poll() is None


def _relay(stream: IO[str], quiet: threading.Event) -> None:
    for line in stream:
        if not quiet.is_set():
            sys.stdout.write(line)
            sys.stdout.flush()


def start_children(env: dict[str, str], quiet: threading.Event, into: list[Child]) -> None:
    """Start each child into `into` (so a Ctrl-C halfway still stops those started)."""
    port = env.get("PORT", "8000")
    for name, args in CHILDREN.items():
        args = [*args, f"127.0.0.1:{port}"] if name == "web" else args
        log_file = "app.log" if name == "web" else f"{name}.log"
        # Unbuffered: their output reaches the screen through a pipe, as it happens.
        child_env = {**env, "LOG_FILE": log_file, "PYTHONUNBUFFERED": "1"}
        into.append(Child(name, args, child_env, quiet))


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def supervise(env: dict[str, str]) -> int:
    """Run the children until Ctrl-C/SIGTERM (exit 0) or until one dies (exit 1, naming
    it); then stop the others gracefully and say so in one line."""
    signal.signal(signal.SIGTERM, _interrupt)
    quiet = threading.Event()
    children: list[Child] = []
    code = 0
    try:
        start_children(env, quiet, children)
        while all(child.alive() for child in children):
            time.sleep(0.2)
        dead = next(child for child in children if not child.alive())
        code = 1
        print(f"The {dead.name} process stopped (exit {dead.process.returncode}); stopping.")
    except KeyboardInterrupt:
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop short
    quiet.set()
    stop_children(children)
    print("stopped" if code == 0 else "stopped (see above)")
    return code


def stop_children(children: list[Child]) -> None:
    for child in children:
        if child.alive():  # a worker finishes its current job first (warm shutdown)
            child.process.terminate()
    for child in children:
        try:
            child.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, signal.SIGKILL)  # what it left in its group
        child.relay.join(timeout=5)


def main() -> int:
    os.chdir(ROOT)
    ensure_env_file()
    env = dict(os.environ)
    demo = demo_standins(env) if needs_demo(env) else contextlib.nullcontext({})
    try:
        with redis_for_run(env) as redis_url, demo as demo_env:
            if demo_env:
                print(BANNER)
            env.update(demo_env, REDIS_URL=redis_url)
            prepare(env)
            port = env.get("PORT", "8000")
            print(f"Site: http://127.0.0.1:{port}/  Admin: /admin/  Queues: /django-rq/")
            print("Ctrl-C stops it.")
            return supervise(env)
    except DemoUnavailable as exc:
        sys.exit(str(exc))
    except KeyboardInterrupt:  # during the preparation: nothing of ours is running yet
        print("stopped")
        return 0


if __name__ == "__main__":
    sys.exit(main())
