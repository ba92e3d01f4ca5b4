"""`generate_deep_research_bg`: queues through the one door, refuses bad input, follows runs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rq.job import Job

from blog.models import Post
from generation import queues
from generation.models import GenerationRun, RunStatus
from generation.queues import job_id_for
from standins.writer import THEMES
from tests.factories import make_post
from tests.workers import FAST, ROOT, running_worker, wait_for


def bg(*args: str) -> str:
    out = StringIO()
    call_command("generate_deep_research_bg", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def queued_job_ids() -> list[str]:
    return queues.get_queue("content").get_job_ids()


@pytest.mark.django_db
def test_bg_command_queues_runs_and_prints_their_ids(author, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        out = bg("--count", "2", "--topic", "Redis streams", "--author", "writer")
    runs = list(GenerationRun.objects.order_by("pk"))
    estimate, queued = out.splitlines()[:2]
    assert queued == "Queued successfully!"
    # Shown before queueing: no finished run yet, so the documented formula.
    assert estimate.startswith("Estimated cost: ~$0.0189 a post, ~$0.0378 for 2 (formula: 7 rounds")
    assert all(str(run.pk) in out for run in runs) and len(runs) == 2
    assert {run.topic for run in runs} == {"Redis streams"}
    assert all(run.status == RunStatus.QUEUED and run.origin == "command" for run in runs)
    assert queued_job_ids() == [f"generation-run-{run.pk}" for run in runs]
    assert Job.fetch(job_id_for(runs[0].pk), connection=queues.get_queue().connection).args == (
        runs[0].pk,
    )


@pytest.mark.django_db
def test_bg_command_json_prints_only_the_object(author, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        out = bg("--count", "3", "--author", str(author.pk), "--delay", "60", "--json")
    payload = json.loads(out)
    ids = list(GenerationRun.objects.order_by("pk").values_list("pk", flat=True))
    assert payload == {
        "queued": 3,
        "run_ids": ids,
        "queue": "content",
        "delay": 60.0,
        "estimate_usd": "0.018900",  # one post's, recorded on each run
    }
    assert queues.get_queue("content").scheduled_job_registry.count == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--count", "0"], "Count must be between 1 and"),
        (["--count", "101"], "Count must be between 1 and 100"),
        (["--author", "nobody"], "Author 'nobody' does not exist."),
        (["--delay", "-1"], "Delay must be zero or more seconds"),
        (["--queue", "nope"], "Unknown queue 'nope'"),
    ],
)
def test_bg_command_refuses_bad_input_and_queues_nothing(author, settings, args, message):
    settings.GENERATION_MAX_BATCH = 100
    with pytest.raises(CommandError, match=message) as info:
        bg("--author", "writer", *args)
    assert "\n" not in str(info.value)
    assert GenerationRun.objects.count() == 0
    assert all(queues.get_queue(name).count == 0 for name in settings.RQ_QUEUE_NAMES)


def test_bg_command_with_redis_down_fails_in_one_line_and_writes_nothing(worker_env, author):
    result = subprocess.run(
        [sys.executable, "manage.py", "generate_deep_research_bg", "--author", "writer"],
        cwd=ROOT,
        env={**worker_env, "REDIS_URL": "redis://127.0.0.1:6390/0"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert result.stdout.startswith("Estimated cost: ")  # shown first, nothing queued
    assert len(result.stdout.splitlines()) == 1 and "Queued" not in result.stdout
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Redis is unreachable at redis://127.0.0.1:6390/0" in result.stderr
    assert GenerationRun.objects.count() == 0


@pytest.mark.workers
def test_bg_command_follows_runs_to_a_post(shared_worker, author):
    out = bg("--topic", "Python async I/O", "--author", "writer", "--follow")
    run = GenerationRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert Post.objects.get().pk == run.post_id
    assert f"Run {run.pk}: succeeded" in out
    # In review, not its 404 URL: the review screen, and how many claims went.
    assert f"/admin/blog/post/{run.post_id}/review/ (in review: " in out
    assert " claims removed)" in out
    # Output is not a terminal: plain progress lines as the run moves, each stage once.
    lines = [line for line in out.splitlines() if line.startswith(f"run {run.pk}: ")]
    for stage in ("topic", "research", "outline", "sections", "citations", "metadata"):
        assert sum(line.startswith(f"run {run.pk}: {stage} done in") for line in lines) == 1
    assert lines[0] == f"run {run.pk}: queued" and lines[-1] == f"run {run.pk}: succeeded"
    assert len(lines) == len(set(lines))


@pytest.mark.workers
def test_bg_command_delay_is_honoured(shared_worker, author):
    out = bg("--topic", "Django caching", "--author", "writer", "--delay", "3", "--json")
    (run_id,) = json.loads(out)["run_ids"]
    # Held in RQ's scheduled registry until its time, not on the queue.
    queue = queues.get_queue()
    assert job_id_for(run_id) in queue.scheduled_job_registry.get_job_ids()
    assert job_id_for(run_id) not in queue.job_ids
    run = wait_for(
        lambda: GenerationRun.objects.filter(pk=run_id, status=RunStatus.SUCCEEDED).first(),
        timeout=60,
    )
    assert run.started_at >= run.created_at + timedelta(seconds=2.8)


@pytest.mark.workers
def test_bg_command_follow_fails_when_a_followed_run_fails(worker_env, author):
    for theme in THEMES:  # every subject the stand-in suggests is covered: NoFreshTopic
        make_post(f"{theme}: the complete guide", author=author)
    out = StringIO()
    with running_worker({**worker_env, **FAST}), pytest.raises(CommandError) as info:
        call_command(
            "generate_deep_research_bg",
            "--count",
            "2",
            "--author",
            "writer",
            "--follow",
            stdout=out,
            stderr=StringIO(),
        )
    assert str(info.value).startswith("2 of 2 runs failed")
    runs = GenerationRun.objects.order_by("pk")
    assert [run.status for run in runs] == [RunStatus.FAILED] * 2
    assert all(f"Run {run.pk}: failed  NoFreshTopic" in out.getvalue() for run in runs)


def test_bg_command_follow_warns_when_no_worker_serves_the_queue(worker_env, author):
    follow = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "generate_deep_research_bg",
            "--topic",
            "Redis",
            "--author",
            "writer",
            "--follow",
        ],
        cwd=ROOT,
        env=worker_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        warning = follow.stderr.readline()  # its first line there: log lines go to the file
        started = wait_for(lambda: GenerationRun.objects.first(), timeout=30)
    finally:
        follow.send_signal(signal.SIGINT)
        out, _ = follow.communicate(timeout=30)
    assert warning.startswith("No live worker serves the 'content' queue")
    assert "`python manage.py rqworker content --with-scheduler`" in warning
    assert started.status == RunStatus.QUEUED
    assert "Stopped following" in out and follow.returncode == 0


def test_bg_command_without_an_llm_endpoint_is_refused_in_one_line(worker_env, author):
    env = {**worker_env, "OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
    result = subprocess.run(
        [sys.executable, "manage.py", "generate_deep_research_bg", "--author", "writer"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0 and "Queued" not in result.stdout
    (line,) = result.stderr.strip().splitlines()
    assert "set OPENAI_API_KEY" in line and "OPENAI_BASE_URL" in line
    assert GenerationRun.objects.count() == 0


@pytest.mark.django_db
def test_every_door_refuses_without_an_llm_endpoint(author, settings, admin_client_):
    from generation.scheduling import service as scheduling
    from tests.factories import make_schedule

    settings.OPENAI_API_KEY = settings.OPENAI_BASE_URL = ""
    response = admin_client_.post(
        "/admin/generation/generate/",
        {"count": "1", "author": str(author.pk), "delay": "0", "tags": "on"},
    )
    assert response.status_code == 200 and "set OPENAI_API_KEY" in response.content.decode()
    schedule = make_schedule(author=author, enabled=False)
    occurrence = scheduling.schedule_run_now(schedule_id=schedule.pk)
    assert occurrence.outcome == "failed" and "OPENAI_BASE_URL" in occurrence.message
    assert GenerationRun.objects.count() == 0
