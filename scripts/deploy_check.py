#!/usr/bin/env python3
"""`make deploy-check`: can the deploy user run every supervisor program? Say what is wrong.

Supervisor starts each program as its `user=` (www-data in the shipped config). When that
user cannot reach the virtualenv's interpreter (a venv built from a Python under /root or
another home folder), read the checkout or write the logs, every program goes FATAL with
little to show why. This runs each program's interpreter as that user, the same way, and
prints one line per problem, naming the path and what the user lacks.

    sudo make deploy-check                       # the shipped config, user www-data
    sudo python3 scripts/deploy_check.py --config /etc/supervisor/conf.d/deep-research-blog.conf

Standard library only, so it runs before the virtualenv works. Exit 0: all good; 1: problems.
"""

from __future__ import annotations

import argparse
import configparser
import os
import pwd
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run by the program's interpreter, as the program's user, in the program's directory.
PROBE = r"""
import os, sys
problems = []
def need(path, mode, what):
    if not os.path.exists(path):
        problems.append(f"{path} is missing ({what})")
    elif not os.access(path, mode):
        problems.append(f"{path} is not {what} by this user")
for entry in sys.path:
    if entry.startswith(sys.prefix) and os.path.isdir(entry):
        need(entry, os.R_OK | os.X_OK, "readable (the virtualenv's packages)")
need("manage.py", os.R_OK, "readable (the checkout)")
if os.path.exists(".env"):
    need(".env", os.R_OK, "readable (the settings)")
logs = "logs"
if os.path.isfile(".env") and os.access(".env", os.R_OK):
    for line in open(".env", encoding="utf-8"):
        key, _, value = line.strip().partition("=")
        if key == "LOG_DIR" and value:
            logs = value.strip().strip('"')
need(logs, os.W_OK | os.X_OK, "writable (the logs)")
print("\n".join(problems))
"""


@dataclass(frozen=True)
class Program:
    name: str
    command: list[str]
    directory: str
    user: str


def programs(config: Path, default_user: str) -> list[Program]:
    parser = configparser.RawConfigParser(strict=False)
    if not parser.read(config):
        raise SystemExit(f"deploy-check: cannot read {config}")
    found = []
    for section in parser.sections():
        if section.startswith("program:"):
            get = lambda key, fallback="", s=section: parser.get(s, key, fallback=fallback)  # noqa: E731
            found.append(
                Program(
                    name=section.removeprefix("program:"),
                    command=shlex.split(get("command")),
                    directory=get("directory", str(ROOT)),
                    user=get("user", default_user),
                )
            )
    return found


def blocking_component(path: str, user: pwd.struct_passwd) -> str:
    """The first directory on the way to `path` that `user` may not enter, explained."""
    groups = set(os.getgrouplist(user.pw_name, user.pw_gid))
    current = Path("/")
    for part in [*Path(path).parts[1:], ""]:
        if not current.exists():
            return f"{current} does not exist"
        if not part:
            return ""
        stat = current.stat()
        if stat.st_uid == user.pw_uid:
            allowed = stat.st_mode & 0o100
        elif stat.st_gid in groups:
            allowed = stat.st_mode & 0o010
        else:
            allowed = stat.st_mode & 0o001
        if not allowed:
            owner = pwd.getpwuid(stat.st_uid).pw_name
            return (
                f"{current} (mode {stat.st_mode & 0o777:o}, owner {owner}) does not let "
                f"{user.pw_name} in"
            )
        current = current / part
    return ""


def check(program: Program) -> list[str]:
    where = f"[{program.name}]"
    try:
        user = pwd.getpwnam(program.user)
    except KeyError:
        return [f"{where} user {program.user!r} does not exist"]
    if not program.command:
        return [f"{where} has no command"]
    interpreter = python_of(program.command[0])
    real = os.path.realpath(interpreter)
    for path in dict.fromkeys([*link_chain(interpreter), program.directory]):
        if reason := blocking_component(path, user):
            return [f"{where} {user.pw_name} cannot reach {path}: {reason}"]
    return _run_probe(program, user, where, interpreter, real)


def link_chain(path: str) -> list[str]:
    """`path` and every path its symlinks pass through: the user must reach each of them
    (a venv's python usually links to an interpreter elsewhere, e.g. in a home folder)."""
    chain, current = [path], path
    for _ in range(40):
        if not os.path.islink(current):
            break
        target = os.readlink(current)
        current = os.path.normpath(os.path.join(os.path.dirname(current), target))
        chain.append(current)
    return chain


def python_of(executable: str) -> str:
    """The interpreter a command runs under: itself, or the venv's python beside a script
    such as .venv/bin/gunicorn."""
    if Path(executable).name.startswith("python"):
        return executable
    return str(Path(executable).parent / "python")


def _run_probe(
    program: Program, user: pwd.struct_passwd, where: str, interpreter: str, real: str
) -> list[str]:
    try:
        done = subprocess.run(
            [interpreter, "-c", PROBE],
            cwd=program.directory,
            user=user.pw_uid,
            group=user.pw_gid,
            extra_groups=os.getgrouplist(user.pw_name, user.pw_gid),
            env={
                "PATH": "/usr/bin:/bin",
                "HOME": user.pw_dir,
                "LOG_DIR": os.environ.get("LOG_DIR", ""),
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
    except OSError as exc:
        return [f"{where} {user.pw_name} cannot run {interpreter} (-> {real}): {exc.strerror}"]
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return [f"{where} {program.command[0]} fails as {user.pw_name}: {last}"]
    return [f"{where} {line}" for line in done.stdout.splitlines() if line.strip()]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--config", type=Path, default=ROOT / "deploy/supervisor/deep-research-blog.conf"
    )
    parser.add_argument("--user", default=os.environ.get("DEPLOY_USER", "www-data"))
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("deploy-check: run it as root (sudo make deploy-check) to act as the deploy user.")
        return 2
    problems = [
        problem for program in programs(args.config, args.user) for problem in check(program)
    ]
    for problem in problems:
        print(problem)
    if not problems:
        print(f"deploy-check: every program in {args.config} can run as its user.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
