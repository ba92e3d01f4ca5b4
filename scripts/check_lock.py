#!/usr/bin/env python
"""Check that pyproject.toml and the locks (requirements/*.txt) agree; exit 1 if not.

For each lock, walks the dependency tree from what pyproject.toml declares (plus the build
requirements) through the installed packages' metadata, and reports, one line each:
a needed package missing from the lock, a locked version outside a declared range, a lock
entry without hashes, a lock entry nothing needs, an installed version that differs from
the lock, a package locked at different versions in the two locks, and an extra that a
package asks for (justext's `lxml[html_clean]`) which the lock does not satisfy: the locks
are installed with `pip install --no-deps`, so nothing outside them is ever fetched.
Run `make lock` after changing pyproject.toml.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections import deque
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
# The environment the locks are compiled for (`uv pip compile --python-version 3.11
# --python-platform linux`): markers are judged as uv judged them, for the oldest 3.11.
TARGET = {
    "python_version": "3.11",
    "python_full_version": "3.11.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


@dataclass
class Lock:
    path: str
    versions: dict[str, Version] = field(default_factory=dict)
    unhashed: list[str] = field(default_factory=list)


def lock_read(path: Path) -> Lock:
    """The pins of a lock file written by `uv pip compile --generate-hashes`."""
    lock = Lock(path=path.name)
    entries = re.split(r"\n(?=[A-Za-z0-9])", path.read_text())
    for entry in entries:
        match = _PIN.match(entry)
        if not match:
            continue
        name = canonicalize_name(match[1])
        lock.versions[name] = Version(match[2].rstrip("\\").strip())
        if "--hash=" not in entry:
            lock.unhashed.append(name)
    return lock


def declared(pyproject: Path, build_in: Path, *, extras: tuple[str, ...]) -> list[Requirement]:
    """What pyproject.toml asks for (with the given extras) and what the build needs."""
    data = tomllib.loads(pyproject.read_text())
    lines = list(data["project"]["dependencies"])
    for extra in extras:
        lines += data["project"].get("optional-dependencies", {}).get(extra, [])
    lines += data.get("build-system", {}).get("requires", [])
    lines += [
        line.split("#")[0].strip()
        for line in build_in.read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    return [Requirement(line) for line in lines]


def _applies(req: Requirement, extras: set[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({**TARGET, "extra": extra}) for extra in extras or {""})


def lock_problems(lock: Lock, roots: list[Requirement]) -> list[str]:
    """Every disagreement between `roots` (and what they need, transitively) and `lock`."""
    problems = [f"{lock.path}: {name} has no hashes" for name in lock.unhashed]
    reached: set[str] = set()
    expanded: set[tuple[str, frozenset[str]]] = set()
    todo: deque[tuple[Requirement, str]] = deque(
        (req, "pyproject.toml") for req in roots if _applies(req, set())
    )
    while todo:
        req, needed_by = todo.popleft()
        name = canonicalize_name(req.name)
        locked = lock.versions.get(name)
        if locked is None:
            problems.append(f"{lock.path}: {name} (needed by {needed_by}) is not locked")
            continue
        if not req.specifier.contains(locked, prereleases=True):
            problems.append(
                f"{lock.path}: {name}=={locked} is outside {needed_by}'s range {req.specifier}"
            )
        if name not in reached:
            problems += _installed_problems(lock, name, locked)
        reached.add(name)
        key = (name, frozenset(req.extras))
        if key not in expanded:
            expanded.add(key)
            problems += _unknown_extras(lock, name, req.extras, needed_by)
            todo.extend(_requirements_of(name, req.extras))
    problems += [
        f"{lock.path}: {name} is locked but nothing in pyproject.toml needs it"
        for name in sorted(set(lock.versions) - reached)
    ]
    return problems


def _installed_problems(lock: Lock, name: str, locked: Version) -> list[str]:
    try:
        installed = Version(metadata.version(name))
    except metadata.PackageNotFoundError:
        return [f"{lock.path}: {name} is locked but not installed: run `make setup`"]
    if installed != locked:
        return [f"{lock.path}: {name} {installed} is installed, the lock says {locked}"]
    return []


def _unknown_extras(lock: Lock, name: str, extras: set[str], needed_by: str) -> list[str]:
    """Extras asked of `name` that its locked release does not define: pip would skip them
    (or, without --no-deps, go to the index for them), so what they bring is not locked."""
    try:
        known = {
            canonicalize_name(e) for e in metadata.metadata(name).get_all("Provides-Extra") or []
        }
    except metadata.PackageNotFoundError:
        return []
    return [
        f"{lock.path}: {needed_by} asks for {name}[{extra}], "
        f"which {name}=={lock.versions[name]} does not provide"
        for extra in sorted(extras)
        if canonicalize_name(extra) not in known
    ]


def _requirements_of(name: str, extras: set[str]) -> list[tuple[Requirement, str]]:
    try:
        lines = metadata.requires(name) or []
    except metadata.PackageNotFoundError:
        return []
    wanted = {canonicalize_name(extra) for extra in extras}
    reqs = (Requirement(line) for line in lines)
    label = f"{name}[{','.join(sorted(extras))}]" if extras else name
    return [
        (req, label if req.marker and "extra" in str(req.marker) else name)
        for req in reqs
        if _applies(req, wanted)
    ]


def locks_disagree(runtime: Lock, dev: Lock) -> list[str]:
    """Production and tests must run the same versions of what they share."""
    return [
        f"{name} is {version} in {runtime.path} but {dev.versions[name]} in {dev.path}"
        for name, version in sorted(runtime.versions.items())
        if name in dev.versions and dev.versions[name] != version
    ]


def main(root: Path = ROOT) -> list[str]:
    pyproject, build_in = root / "pyproject.toml", root / "requirements" / "build.in"
    runtime = lock_read(root / "requirements" / "lock.txt")
    dev = lock_read(root / "requirements" / "dev.lock.txt")
    return [
        *lock_problems(runtime, declared(pyproject, build_in, extras=())),
        *lock_problems(dev, declared(pyproject, build_in, extras=("dev",))),
        *locks_disagree(runtime, dev),
    ]


if __name__ == "__main__":
    found = main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT)
    for line in found:
        print(f"lock: {line}", file=sys.stderr)
    if found:
        print("lock: pyproject.toml and the lock disagree; run `make lock`.", file=sys.stderr)
        sys.exit(1)
    print("lock: pyproject.toml and requirements/*.txt agree.")
