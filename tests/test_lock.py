"""The lock (requirements/*.txt) and pyproject.toml agree, and the check catches each way
they can drift apart."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import check_lock

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of pyproject.toml and the locks, to break in one way per test."""
    (tmp_path / "requirements").mkdir()
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    for name in ("build.in", "lock.txt", "dev.lock.txt"):
        shutil.copy(ROOT / "requirements" / name, tmp_path / "requirements")
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def _drop_entry(lock: Path, name: str) -> None:
    text = lock.read_text()
    pattern = re.compile(rf"^{name}==.*?(?=^[a-z])", re.MULTILINE | re.DOTALL)
    assert pattern.search(text), name
    lock.write_text(pattern.sub("", text, count=1))


def test_the_committed_lock_agrees_with_pyproject():
    assert check_lock.main(ROOT) == []


def test_the_command_exits_nonzero_with_one_line_per_problem(project: Path):
    _drop_entry(project / "requirements" / "lock.txt", "sqlparse")
    result = subprocess.run(
        [sys.executable, "scripts/check_lock.py", str(project)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "lock: lock.txt: sqlparse (needed by django) is not locked",
        "lock: pyproject.toml and the lock disagree; run `make lock`.",
    ]


def test_a_direct_dependency_missing_from_the_lock_is_reported(project: Path):
    _edit(project / "pyproject.toml", '"nh3>=0.2.17,<1",', '"nh3>=0.2.17,<1",\n  "six>=1",')
    problems = check_lock.main(project)
    assert "lock.txt: six (needed by pyproject.toml) is not locked" in problems
    assert "dev.lock.txt: six (needed by pyproject.toml) is not locked" in problems


def test_a_locked_version_outside_the_declared_range_is_reported(project: Path):
    _edit(project / "pyproject.toml", '"django>=5.2,<5.3"', '"django>=5.3,<6"')
    problems = check_lock.main(project)
    assert any(
        p.startswith("lock.txt: django==5.2.") and "outside pyproject.toml's range" in p
        for p in problems
    ), problems


def test_a_lock_entry_that_nothing_needs_is_reported(project: Path):
    _edit(project / "pyproject.toml", '  "gunicorn>=22,<24",\n', "")
    problems = check_lock.main(project)
    assert "lock.txt: gunicorn is locked but nothing in pyproject.toml needs it" in problems


def test_a_dev_tool_in_the_runtime_lock_is_reported(project: Path):
    dev = (project / "requirements" / "dev.lock.txt").read_text()
    ruff = re.search(r"^ruff==.*?(?=^[a-z])", dev, re.MULTILINE | re.DOTALL)[0]
    with (project / "requirements" / "lock.txt").open("a") as lock:
        lock.write(ruff)
    problems = check_lock.main(project)
    assert "lock.txt: ruff is locked but nothing in pyproject.toml needs it" in problems


def test_a_missing_transitive_dependency_is_reported(project: Path):
    _drop_entry(project / "requirements" / "dev.lock.txt", "asgiref")
    problems = check_lock.main(project)
    assert "dev.lock.txt: asgiref (needed by django) is not locked" in problems


def test_a_missing_extra_dependency_is_reported(project: Path):
    _drop_entry(project / "requirements" / "lock.txt", "psycopg-binary")
    problems = check_lock.main(project)
    assert "lock.txt: psycopg-binary (needed by psycopg[binary]) is not locked" in problems


def test_an_entry_without_hashes_is_reported(project: Path):
    lock = project / "requirements" / "lock.txt"
    text = lock.read_text()
    entry = re.search(r"^sqlparse==(\S+) \\\n(?:    --hash=\S+(?: \\)?\n)+", text, re.MULTILINE)
    lock.write_text(text.replace(entry[0], f"sqlparse=={entry[1]}\n"))
    assert "lock.txt: sqlparse has no hashes" in check_lock.main(project)


def test_locks_that_pin_a_shared_package_differently_are_reported(project: Path):
    lock = project / "requirements" / "lock.txt"
    version = check_lock.lock_read(lock).versions["sqlparse"]
    _edit(lock, f"sqlparse=={version}", "sqlparse==0.0.1")
    problems = check_lock.main(project)
    assert f"sqlparse is 0.0.1 in lock.txt but {version} in dev.lock.txt" in problems
    assert "lock.txt: sqlparse 0.0.1 is installed" not in problems
    assert any(p.startswith("lock.txt: sqlparse ") and "is installed" in p for p in problems)


def test_an_extra_asked_by_a_locked_package_must_be_locked(project: Path):
    # jusText asks for lxml[html_clean]. Installs use --no-deps, so if the lock lacked what
    # that extra brings, nothing would install it: the check must say so even when
    # pyproject.toml no longer names lxml-html-clean itself.
    _edit(project / "pyproject.toml", '  "lxml-html-clean>=0.4,<1",\n', "")
    _drop_entry(project / "requirements" / "lock.txt", "lxml-html-clean")
    problems = check_lock.main(project)
    assert "lock.txt: lxml-html-clean (needed by lxml[html_clean]) is not locked" in problems


def test_an_extra_the_locked_release_does_not_provide_is_reported(project: Path):
    _edit(project / "pyproject.toml", '"nh3>=0.2.17,<1",', '"nh3>=0.2.17,<1",\n  "lxml[nosuch]",')
    problems = check_lock.main(project)
    version = check_lock.lock_read(project / "requirements" / "lock.txt").versions["lxml"]
    assert (
        f"lock.txt: pyproject.toml asks for lxml[nosuch], which lxml=={version} does not provide"
        in problems
    )


def test_every_install_from_a_lock_resolves_nothing_and_is_checked():
    # Makefile, Dockerfile and deploy/README install the lock with --no-deps --require-hashes,
    # the project with --no-deps, then run `pip check`.
    texts = {
        name: (ROOT / name).read_text() for name in ("Makefile", "Dockerfile", "deploy/README.md")
    }
    for name, text in texts.items():
        installs = [line for line in text.splitlines() if re.search(r"pip install\b", line)]
        assert installs, name
        for line in installs:
            assert "--no-deps" in line, f"{name}: {line.strip()}"
            if " -r " in line:
                assert "--require-hashes" in line, f"{name}: {line.strip()}"
        assert "pip check" in text, name
