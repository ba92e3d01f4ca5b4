"""Pause and resume (RQ's suspend) and stopping a running generation, on real workers."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from rq.worker import Worker

from generation import health, queues, scheduling, service, worker_births
from generation.models import GenerationRun, OccurrenceOutcome, RunStatus
from generation.operations import runs_retry
from tests.factories import make_schedule
from tests.workers import FAST, running_worker, wait_for

pytestmark = [pytest.mark.workers, pytest.mark.django_db(transaction=True)]

STAGES_BEFORE_SECTIONS = ("topic_angle", "search_queries", "outline")


def suspended_workers() -> list[str]:
    connection = queues.get_queue().connection
    return [w.name for w in Worker.all(connection=connection) if w.get_state() == "suspended"]


def test_queue_pause_makes_workers_take_no_new_job_and_queue_resume_lets_them(
    worker_env, author, capsys
):
    call_command("queue_pause", "--reason", "LLM provider incident")
    assert "paused" in capsys.readouterr().out
    with running_worker({**worker_env, **FAST}, "--name", "paused-worker"):
        wait_for(lambda: suspended_workers() == ["paused-worker"], timeout=60)
        (run,) = service.enqueue_posts(count=1, topic="LLM optimization", author=author)
        # The worker says it is suspended each time it looks (every second): let it look
        # several times with the job waiting, and it still takes nothing.
        seen = time.monotonic()
        wait_for(lambda: time.monotonic() - seen > 3 and suspended_workers(), timeout=10)
        run.refresh_from_db()
        assert run.status == RunStatus.QUEUED and run.attempts == 0
        assert queues.get_queue("content").count == 1

        call_command("queue_resume")
        assert "Resumed" in capsys.readouterr().out
        wait_for(
            lambda: GenerationRun.objects.filter(pk=run.pk, status=RunStatus.SUCCEEDED).exists(),
            timeout=90,
        )
    assert health.check_paused().level == health.Level.OK
    births = worker_births.restarts_last_hour(queues.get_queue().connection)
    assert births == {}  # one start: recorded, no restart
    assert queues.get_queue().connection.zcard(worker_births.BIRTHS_KEY) == 1


def test_the_email_worker_is_not_paused_so_alerts_still_go_out(worker_env, redis_conn):
    call_command("queue_pause", "--reason", "incident")
    with running_worker(worker_env, "--name", "ops-worker", queues=("email", "default")):
        queues.get_queue("email").enqueue("tests.jobs_for_tests.sleep_and_report", 0, "mails")
        wait_for(lambda: redis_conn.lrange("mails", 0, -1), timeout=60)
        assert suspended_workers() == []


def test_while_paused_health_metrics_overview_and_schedules_say_so(
    client, admin_user, settings, author
):
    settings.METRICS_TOKEN = "t" * 32
    call_command("queue_pause", "--reason", "maintenance")

    check = health.check_paused()
    assert check.level == health.Level.WARNING
    assert "paused" in check.summary and "maintenance" in check.summary
    metrics = client.get("/metrics", HTTP_AUTHORIZATION="Bearer " + "t" * 32).content.decode()
    assert "\ndrb_paused 1.0\n" in metrics
    ready = client.get("/readyz").json()
    assert ready["status"] == "warning" and "maintenance" in ready["warnings"]["paused"]

    client.force_login(admin_user)
    page = client.get("/admin/generation/overview/").content.decode()
    assert "Paused</strong>" in page and "maintenance" in page and "Resume generation" in page

    due = datetime.now(UTC) - timedelta(seconds=30)
    schedule = make_schedule(
        cron=f"{due.minute} {due.hour} * * *",
        author=author,
        effective_from=datetime.now(UTC) - timedelta(seconds=90),
    )
    (occurrence,) = scheduling.schedules_tick()
    assert occurrence.schedule_id == schedule.pk
    assert occurrence.outcome == OccurrenceOutcome.SKIPPED_PAUSED
    assert occurrence.message.startswith("Skipped: generation is paused")
    assert not GenerationRun.objects.exists()

    # The overview's Resume button.
    response = client.post("/admin/generation/overview/pause/", {"action": "resume"})
    assert response.status_code == 302
    assert health.check_paused().level == health.Level.OK
    assert (
        "\ndrb_paused 0.0\n"
        in client.get("/metrics", HTTP_AUTHORIZATION="Bearer " + "t" * 32).content.decode()
    )


def test_pausing_from_the_overview_needs_the_queues_permission(client, author):
    client.force_login(author)  # staff, without generation.manage_queues
    response = client.post("/admin/generation/overview/pause/", {"action": "pause"})
    assert response.status_code == 403
    assert health.check_paused().level == health.Level.OK


@pytest.mark.llm_options(latency=0.3)
def test_queue_stop_cancels_a_running_run_and_a_retry_resumes_from_its_checkpoints(
    worker_env, author, standins, capsys
):
    (run,) = service.enqueue_posts(count=1, topic="LLM optimization", author=author)
    standins.llm.inject(kind="section", delay=30, times=None)  # the run sits in sections
    with running_worker({**worker_env, **FAST}):
        wait_for(
            lambda: GenerationRun.objects.filter(pk=run.pk, stage="sections").exists(), timeout=60
        )
        before = standins.llm.counts
        call_command("queue_stop", str(run.pk))
        assert f"Stopped run(s): {run.pk}." in capsys.readouterr().out
        run.refresh_from_db()
        assert run.status == RunStatus.CANCELED and run.lease_token == ""
        assert {"topic", "research", "outline"} <= set(run.checkpoints)
        # The worker killed the horse: the job is filed as stopped, no retry scheduled.
        job_id = queues.job_id_for(run.pk)
        registry = queues.get_queue("content").failed_job_registry
        wait_for(lambda: job_id in registry.get_job_ids(cleanup=False), timeout=20)

        standins.llm.clear_faults()
        assert runs_retry([run.pk]) == 1
        wait_for(
            lambda: GenerationRun.objects.filter(pk=run.pk, status=RunStatus.SUCCEEDED).exists(),
            timeout=90,
        )
    after = standins.llm.counts
    for kind in STAGES_BEFORE_SECTIONS:  # finished stages were not asked again
        assert after[kind] == before[kind] >= 1, kind
    run.refresh_from_db()
    assert [e["kind"] for e in run.errors] == ["stopped"] and run.post_id
