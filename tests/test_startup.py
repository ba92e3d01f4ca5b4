"""Start-up: the enqueue half (web, admin, commands, the service's enqueue path) loads
nothing of the execution half; the job entry point and the sync command load it on first
use, and RQ workers load it once, before they fork."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from generation.models import GenerationRun

ROOT = Path(__file__).resolve().parent.parent

# What only an executing run needs: the LLM SDK, the page extractor and its parser, the
# pipeline's stage modules and the research layer.
EXECUTION_HALF = (
    "openai",
    "trafilatura",
    "lxml",
    "generation.pipeline.llm",
    "generation.research",
    "generation.pipeline.runner",
    "generation.pipeline.topic",
    "generation.pipeline.research",
    "generation.pipeline.outline",
    "generation.pipeline.sections",
    "generation.pipeline.verify",
    "generation.pipeline.metadata",
    "generation.pipeline.publishing",
)

ENQUEUE_HALF = """
import importlib, json, pkgutil, sys
import django
django.setup()  # settings, apps, the admin's autodiscovery
from django.urls import get_resolver
from django.core.wsgi import get_wsgi_application
get_wsgi_application()
get_resolver()._populate()  # every URLconf and view: the public site, the admin, /django-rq/
import generation.management.commands as commands
for module in pkgutil.iter_modules(commands.__path__):
    importlib.import_module(f"generation.management.commands.{module.name}")
for name in ("generation.runs.service", "generation.execution.jobs",
             "generation.execution.operator", "generation.operations.monitoring",
             "generation.scheduling.service", "generation.runs.lifecycle",
             "generation.execution.worker", "generation.jobs", "generation.notifications"):
    importlib.import_module(name)
from io import StringIO
from django.core.management import call_command
from generation.runs import service
service.enqueue_posts(count=2, topic="Redis", author=AUTHOR)  # the service's enqueue path
for command in (["generate_deep_research_bg", "--count=3", f"--author={AUTHOR}"],
                ["queue_status", "--json"], ["queue_jobs", "--json"], ["queue_failed"]):
    call_command(*command, stdout=StringIO())
print(json.dumps([name for name in NAMES if name in sys.modules]))
"""


def loaded_after(script: str, env: dict[str, str], author: int) -> list[str]:
    code = f"NAMES = {EXECUTION_HALF!r}\nAUTHOR = {author}\n{script}"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.django_db(transaction=True)
def test_the_enqueue_half_loads_nothing_of_the_execution_half(worker_env, author):
    assert loaded_after(ENQUEUE_HALF, worker_env, author.pk) == []
    assert GenerationRun.objects.count() == 5  # it did enqueue: 2 by the service, 3 by the command


@pytest.mark.django_db(transaction=True)
def test_the_check_sees_the_execution_half_once_a_run_executes(worker_env, author):
    """The same check, after the synchronous door ran one run in the same process."""
    first_use = ENQUEUE_HALF.replace(
        "print(json.dumps(",
        "from generation.execution.service import generate_posts\n"
        "generate_posts(count=1, topic='Redis', author=AUTHOR)\nprint(json.dumps(",
    )
    assert set(loaded_after(first_use, worker_env, author.pk)) == set(EXECUTION_HALF)
