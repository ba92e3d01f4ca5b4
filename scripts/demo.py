#!/usr/bin/env python
"""`make demo`: run the real pipeline fully offline, against the loopback stand-ins.

Starts the stand-in LLM and the bundled corpus web in this process, points the
environment at them, and runs `manage.py generate_deep_research` (the same pipeline the
workers run). Extra arguments go to that command, e.g. `--count 2 --topic "Redis"`; the
demo's defaults (one post on "LLM optimization", published) hold for every option not
given, and `--draft` leaves the post a draft. The display shows progress; log lines go to
logs/app.log, and to the screen as well with `-v`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.run import ensure_env_file  # noqa: E402
from standins.demo import DemoUnavailable, demo_standins  # noqa: E402

SITE_NOTE = "The links above are the site's: open them while `make run` is up."
VERBOSE = ("-v", "--verbose")
DEFAULTS = {"--count": "1", "--topic": "LLM optimization"}


def command_args(argv: list[str]) -> list[str]:
    """The user's arguments, plus each default they did not override."""
    given = {arg.split("=", 1)[0] for arg in argv if arg.startswith("--")}
    args = [arg for arg in argv if arg not in ("--draft", *VERBOSE)]
    if any(arg in VERBOSE for arg in argv):
        args += ["--verbosity", "2"]  # the log lines on screen too
    for option, value in DEFAULTS.items():
        if option not in given:
            args += [option, value]
    if "--draft" not in given and "--publish" not in given:
        args.append("--publish")
    return args


def main(argv: list[str]) -> int:
    os.chdir(ROOT)
    ensure_env_file()
    manage = [sys.executable, str(ROOT / "manage.py")]
    args = command_args(argv)
    try:
        with demo_standins(os.environ) as demo_env:
            env = {**os.environ, **demo_env}
            print(
                f"Stand-in LLM at {demo_env['OPENAI_BASE_URL']}, web at {demo_env['SEARXNG_URL']}"
            )
            subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True)
            subprocess.run([*manage, "ensure_admin"], env=env, check=True)
            done = subprocess.run([*manage, "generate_deep_research", *args], env=env)
            print(SITE_NOTE)
            return done.returncode
    except DemoUnavailable as exc:
        sys.exit(str(exc))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
