#!/usr/bin/env python
"""`make run`: prepare the site and run it with its worker and scheduler until Ctrl-C.

Creates .env on first run (DEBUG on, a fresh SECRET_KEY), checks Redis, migrates,
creates a first admin user when there is none, and starts the offline demo's stand-ins
when no LLM endpoint is configured. Children: web (runserver), worker
(`rqworker content video default email --with-scheduler`), an email/ops worker
(`rqworker email default`: mails, schedule ticks and health checks never wait behind a
post) and the scheduler (`rqscheduler`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

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


def ensure_redis() -> None:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except (redis.RedisError, OSError):
        sys.exit(
            f"Redis is not reachable at {url.split('@')[-1]}: start one with `redis-server` "
            "(or `docker compose up -d redis`) and run `make run` again."
        )


def prepare(env: dict[str, str]) -> None:
    subprocess.run([*MANAGE, "migrate", "--noinput"], env=env, check=True)
    subprocess.run([*MANAGE, "ensure_admin"], env=env, check=True)


def start_children(env: dict[str, str]) -> list[subprocess.Popen]:
    port = env.get("PORT", "8000")
    worker_env = {**env, "LOG_FILE": "worker.log"}
    return [
        subprocess.Popen([*MANAGE, "runserver", f"127.0.0.1:{port}", "--noreload"], env=env),
        subprocess.Popen(
            [*MANAGE, "rqworker", "content", "video", "default", "email", "--with-scheduler"],
            env=worker_env,
        ),
        subprocess.Popen(
            [*MANAGE, "rqworker", "email", "default", "--with-scheduler"],
            env={**env, "LOG_FILE": "email-worker.log"},
        ),
        subprocess.Popen([*MANAGE, "rqscheduler"], env={**env, "LOG_FILE": "scheduler.log"}),
    ]


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def supervise(children: list[subprocess.Popen]) -> int:
    """Wait until Ctrl-C/SIGTERM or a child dies; then stop the others gracefully."""
    signal.signal(signal.SIGTERM, _interrupt)
    code = 0
    with contextlib.suppress(KeyboardInterrupt):
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        code = 1
        print("A process stopped; stopping the others.", file=sys.stderr)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
    return code


def main() -> int:
    os.chdir(ROOT)
    ensure_env_file()
    ensure_redis()
    env = dict(os.environ)
    demo = demo_standins(env) if needs_demo(env) else contextlib.nullcontext({})
    try:
        with demo as demo_env:
            if demo_env:
                print(BANNER)
            env.update(demo_env)
            prepare(env)
            port = env.get("PORT", "8000")
            print(f"Site: http://127.0.0.1:{port}/  Admin: /admin/  Queues: /django-rq/")
            return supervise(start_children(env))
    except DemoUnavailable as exc:
        sys.exit(str(exc))


if __name__ == "__main__":
    sys.exit(main())
