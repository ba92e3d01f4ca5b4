"""Stalls caught: overdue delayed jobs and crash-looping workers, alerted once per change of
state, by mail and by webhook (a loopback receiver), through the `email` queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from rq import SimpleWorker
from rq.scheduler import RQScheduler
from rq.worker import Worker

from generation import queues
from generation.operations import health, worker_births
from generation.scheduling import periodic
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db(transaction=True)

JOB = "tests.jobs_for_tests.sleep_and_report"  # never run here: it only has to exist


@pytest.fixture
def hook(settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://blog.example.com"
    settings.METRICS_TOKEN = "metrics-secret-token-1234"
    mail.outbox.clear()
    with WebhookReceiver() as receiver:
        settings.ALERT_WEBHOOK_URL = receiver.url
        settings.ALERT_WEBHOOK_FORMAT = "json"
        yield receiver


def deliver(hook: WebhookReceiver) -> tuple[list[str], list[dict[str, Any]]]:
    """Work the `email` queue in this process; the mails' subjects and webhook bodies sent."""
    queue = queues.get_queue("email")
    mails, posts = len(mail.outbox), len(hook.posts)
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    return [m.subject for m in mail.outbox[mails:]], [p["json"] for p in hook.posts[posts:]]


def changes_of(name: str) -> list[str]:
    return [subject for subject in periodic.health_check() if f": {name} — " in subject]


def test_overdue_delayed_jobs_alert_once_by_mail_and_webhook_and_recover(hook, settings):
    settings.SCHEDULED_OVERDUE_S = 120
    queue = queues.get_queue("content")
    periodic.health_check()  # the other checks' first states (no worker, no scheduler)
    deliver(hook)

    # Due 10 minutes ago, and no worker runs --with-scheduler: nothing will ever move it.
    job = queue.enqueue_at(datetime.now(UTC) - timedelta(minutes=10), JOB, 0, "k")
    fresh = queue.enqueue_at(datetime.now(UTC) - timedelta(seconds=30), JOB, 0, "k")
    assert health.overdue_scheduled() == {"content": 1}
    assert changes_of("scheduled") == [
        "WARNING: scheduled — delayed/retrying jobs overdue by "
        "more than 120s (content 1) and no worker runs "
        "--with-scheduler for them"
    ]
    subjects, posts = deliver(hook)
    assert len(subjects) == 1 and subjects[0].startswith("[Django] WARNING: scheduled")
    assert [(p["check"], p["before"], p["after"]) for p in posts] == [
        ("scheduled", "ok", "warning")
    ]
    assert posts[0]["summary"].startswith("delayed/retrying jobs overdue")
    assert posts[0]["overview"] == "https://blog.example.com/admin/generation/overview/"
    assert hook.posts[-1]["path"] == "/hooks/alerts"

    for _ in range(3):  # still overdue: no storm
        assert changes_of("scheduled") == []
    assert deliver(hook) == ([], [])

    # A --with-scheduler worker for content is alive (it holds RQ's scheduler lock).
    queue.connection.set(RQScheduler.get_locking_key("content"), "a-worker", ex=60)
    assert health.check_scheduled().level == health.Level.OK
    assert changes_of("scheduled") == [
        "RECOVERED: scheduled — no delayed job overdue by more than 120s"
    ]
    subjects, posts = deliver(hook)
    assert [s.split(" — ")[0] for s in subjects] == ["[Django] RECOVERED: scheduled"]
    assert [(p["check"], p["after"]) for p in posts] == [("scheduled", "ok")]
    assert fresh.id in queue.scheduled_job_registry.get_job_ids() and job.id != fresh.id
    # The webhook body carries no secret (the metrics token, say).
    assert all("metrics-secret" not in str(p["json"]) for p in hook.posts)


def test_a_crash_looping_worker_alerts_once_by_mail_and_webhook(hook, settings):
    settings.WORKER_RESTARTS_ALERT = 5
    settings.ALERT_WEBHOOK_FORMAT = "slack"
    connection = queues.get_queue().connection
    periodic.health_check()
    deliver(hook)
    # The restarting worker is up between its crashes (its RQ key is there).
    connection.hset(Worker.redis_worker_namespace_prefix + "worker-content-1", "state", "idle")

    for _ in range(6):  # 6 starts: 5 restarts, not more than 5
        worker_births.birth_record(connection, "worker-content-1")
    worker_births.birth_record(connection, "worker-email")  # started once: fine
    assert changes_of("worker_churn") == []
    worker_births.birth_record(connection, "worker-content-1")  # the 6th restart
    restarts = worker_births.restarts_last_hour(connection)
    assert restarts == {"worker-content-1": worker_births.Restarts("worker-content-1", 6, False)}

    assert changes_of("worker_churn") == [
        "WARNING: worker_churn — worker(s) restarted more than 5 times in the last hour: "
        "worker-content-1 6x"
    ]
    subjects, posts = deliver(hook)
    assert [s.split(" — ")[0] for s in subjects] == ["[Django] WARNING: worker_churn"]
    (post,) = posts
    assert set(post) == {"text"}  # Slack/Mattermost's incoming-webhook shape
    assert "*WARNING: worker_churn" in post["text"] and "worker-content-1 6x" in post["text"]

    worker_births.birth_record(connection, "worker-content-1")
    assert changes_of("worker_churn") == []  # worse by one restart, same state: no storm
    assert deliver(hook) == ([], [])

    connection.delete(worker_births.BIRTHS_KEY)  # the hour passed
    assert [c.split(" — ")[0] for c in periodic.health_check() if "worker_churn" in c] == [
        "RECOVERED: worker_churn"
    ]
    subjects, posts = deliver(hook)
    assert len(subjects) == 1 and len(posts) == 1 and "RECOVERED" in posts[0]["text"]


def test_a_failed_webhook_post_is_retried_through_the_email_queue(hook, settings):
    hook.fail_next = 1
    queue = queues.get_queue("email")
    periodic.health_check()  # workers and scheduler turn bad: two mails, two posts
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert len(hook.posts) == 1  # one answered 503 first
    retried = queue.scheduled_job_registry.get_job_ids()
    assert len(retried) == 1  # RQ retries it (MAIL_RETRY), nothing is lost


def test_the_supervisor_program_names_a_worker_across_restarts(monkeypatch, redis_conn):
    monkeypatch.setenv("SUPERVISOR_PROCESS_NAME", "drb-worker_01")
    connection = queues.get_queue().connection
    for name in ("3f2a", "9b1c", "77de"):  # RQ's random names, one per start
        worker_births.birth_record(connection, name)
    ((identity, restarts),) = worker_births.restarts_last_hour(connection).items()
    assert identity.endswith(":drb-worker_01") and restarts.count == 2
    # Its latest start is not alive: supervisor gave up on it before it counted as churn.
    assert restarts.gone
    check = health.check_worker_churn()
    assert check.level == health.Level.WARNING
    assert check.summary == f"restarted and now gone (supervisor FATAL?): {identity} (2x)"
