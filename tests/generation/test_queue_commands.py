"""The operator commands against real Redis and real worker processes."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rq.job import Job
from rq.worker import Worker

from generation import queues
from generation.models import GenerationRun, RunStatus
from generation.queues import job_id_for
from generation.runs import service
from tests.workers import start_worker, stop, wait_for

pytestmark = [pytest.mark.workers, pytest.mark.django_db(transaction=True)]

FAST = {"GENERATION_RETRY_INTERVALS": "1,1,1", "GENERATION_LLM_MAX_RETRIES": "0"}


def command(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def command_json(name: str, *args: str):
    return json.loads(command(name, *args, "--json"))


def burst(env: dict[str, str]) -> None:
    """Run a burst worker until the queue is empty and it exits."""
    worker = start_worker({**env, **FAST}, "--burst")
    try:
        worker.wait(timeout=60)
    finally:
        stop(worker)


def status_of(run_id: int) -> str:
    return GenerationRun.objects.get(pk=run_id).status


def test_failed_job_is_shown_then_retried_to_success(worker_env, author, standins):
    standins.llm.inject(kind="topic_angle", status=401, times=None)
    (run,) = service.enqueue_posts(count=1, topic="LLM optimization", author=author)
    burst(worker_env)
    assert status_of(run.pk) == RunStatus.FAILED

    content = next(q for q in command_json("queue_status")["queues"] if q["name"] == "content")
    assert content == {"name": "content", "waiting": 0, "running": 0, "scheduled": 0, "failed": 1}
    (failed,) = command_json("queue_failed")
    assert failed["job_id"] == f"generation-run-{run.pk}" and failed["run_id"] == run.pk
    assert failed["topic"] == "LLM optimization" and failed["queue"] == "content"
    assert "401" in failed["error"] and "\n" not in failed["error"]
    assert failed["failed_at"] is not None
    assert "generation-run-" in command("queue_failed")  # the table keeps the full job id

    standins.llm.clear_faults()
    assert command_json("queue_retry", str(run.pk))["retried"] == 1
    assert status_of(run.pk) == RunStatus.QUEUED
    burst(worker_env)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.post_id, run.errors
    assert command_json("queue_failed") == []


def test_queue_retry_refuses_unknown_ids(author):
    (run,) = service.enqueue_posts(count=1, author=author)
    for ref in ("nope", "999999", "generation-run-999999", str(run.pk)):  # not failed: last
        with pytest.raises(CommandError) as info:
            command("queue_retry", ref)
        assert "\n" not in str(info.value)
    assert status_of(run.pk) == RunStatus.QUEUED


def failed_job(run: GenerationRun, *, failed_ago: timedelta) -> Job:
    """Put the run's job in the failed registry as if it failed `failed_ago` ago."""
    queue = queues.get_queue(run.queue_name)
    job = queues.build_job(queue, run.pk)
    job.ended_at = timezone.now() - failed_ago
    queue.failed_job_registry.add(job, ttl=30 * 86_400, exc_string="Traceback\nLLMError: boom")
    GenerationRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED)
    return job


def test_queue_flush_older_than_then_all_keeps_runs_failed(author):
    old, new = service.enqueue_posts(count=2, author=author, delay=3600)
    failed_job(old, failed_ago=timedelta(days=8))
    failed_job(new, failed_ago=timedelta(minutes=5))
    assert [row["run_id"] for row in command_json("queue_failed")] == [new.pk, old.pk]

    assert command_json("queue_flush", "--older-than", "7d") == {"flushed": 1}
    assert [row["run_id"] for row in command_json("queue_failed")] == [new.pk]
    assert "1 failed job(s) deleted" in command("queue_flush")
    assert command_json("queue_failed") == []
    assert not Job.exists(job_id_for(old.pk), connection=queues.get_queue().connection)
    assert {status_of(old.pk), status_of(new.pk)} == {RunStatus.FAILED}


def test_queue_flush_refuses_a_bad_age():
    with pytest.raises(CommandError, match="--older-than must be a number and a unit"):
        command("queue_flush", "--older-than", "7 weeks")


def test_queue_restart_stops_an_idle_worker(worker_env):
    worker = start_worker(worker_env)
    connection = queues.get_queue().connection
    try:
        # Idle means waiting for a job, past start-up (its scheduler process forked): a
        # restart asked for during start-up can race the fork of RQ's scheduler process.
        wait_for(
            lambda: [w.get_state() for w in Worker.all(connection=connection)] == ["idle"],
            timeout=20,
        )
        overview = command_json("queue_status")
        (row,) = overview["workers"]
        assert row["pid"] == worker.pid and row["queues"] == ["content"] and row["job_id"] is None
        assert row["alive"]
        payload = command_json("queue_restart")
        assert payload == {"asked": 1, "workers": [row["name"]]}
        worker.wait(timeout=10)
        assert worker.returncode == 0
    finally:
        stop(worker)
