"""Log files: several writers and a rotation lose no line and cut none; worker maintenance
lines stay out of the logs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from generation.models import GenerationRun, RunStatus
from tests.workers import FAST, ROOT, running_worker, wait_for

WRITER = """
import logging, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
log = logging.getLogger("probe")
for i in range(int(sys.argv[2])):
    log.info("probe %s %05d %s end", sys.argv[1], i, "x" * 300)
"""
LINES = 3000
LINE = re.compile(r"INFO probe \[pid \d+\] probe (w\d) (\d{5}) x{300} end$")


def test_three_writers_and_a_rotation_lose_and_cut_no_line(tmp_path):
    env = {**os.environ, "LOG_DIR": str(tmp_path), "LOG_FILE": "app.log"}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, f"w{n}", str(LINES)],
            cwd=ROOT,
            env=env,
            stderr=subprocess.DEVNULL,
        )
        for n in range(3)
    ]
    log = tmp_path / "app.log"
    wait_for(lambda: log.exists() and log.stat().st_size > 200_000, timeout=60, every=0.01)
    log.rename(tmp_path / "app.log.1")  # what logrotate does, while all three write
    for writer in writers:
        assert writer.wait(timeout=120) == 0
    lines = []
    for name in ("app.log.1", "app.log"):
        lines += (tmp_path / name).read_text(encoding="utf-8").splitlines()
    probes = [line for line in lines if " probe " in line]
    matches = [LINE.search(line) for line in probes]
    assert all(matches), next(line for line, m in zip(probes, matches, strict=True) if not m)
    seen = {(m[1], int(m[2])) for m in matches}
    assert len(probes) == len(seen) == 3 * LINES
    assert (tmp_path / "app.log").stat().st_size > 0  # writers reopened the new file


def _maintenance_ran(author) -> GenerationRun:
    """A run whose process died: the reaper, which runs right after RQ's registry cleaning
    in each maintenance round, fails it. Its failure proves a round happened."""
    return GenerationRun.objects.create(
        author=author,
        status=RunStatus.RUNNING,
        lease_token="dead",
        lease_expires_at=timezone.now() - timedelta(minutes=5),
    )


@pytest.mark.workers
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_worker_maintenance_lines_stay_out_of_the_log_unless_debugging(
    worker_env, tmp_path, author, level
):
    env = {**worker_env, **FAST, "LOG_DIR": str(tmp_path), "LOG_LEVEL": level}
    run = _maintenance_ran(author)
    with running_worker(env):
        wait_for(
            lambda: GenerationRun.objects.get(pk=run.pk).status == RunStatus.FAILED, timeout=60
        )
    text = (tmp_path / "worker.log").read_text(encoding="utf-8")
    assert "started with PID" in text  # the worker did log
    assert ("cleaning registries" in text) == (level == "DEBUG")
