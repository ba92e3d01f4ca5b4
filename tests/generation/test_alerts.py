"""Alert mails: one per change of state of a health check, through the `email` queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from rq import SimpleWorker

from generation import queues
from generation.models import AlertState, GenerationRun, RunStatus
from generation.operations import alerts
from generation.scheduling import periodic

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admins(settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.FAILED_JOBS_ALERT = 1
    mail.outbox.clear()
    return settings


def deliver() -> list[str]:
    """Work the `email` queue as a worker would (in this process, so locmem sees it);
    returns the subjects of the mails sent."""
    queue = queues.get_queue("email")
    sent_before = len(mail.outbox)
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    return [message.subject for message in mail.outbox[sent_before:]]


def _fail_a_run(author) -> GenerationRun:
    return GenerationRun.objects.create(
        author=author, topic="Redis", status=RunStatus.FAILED, finished_at=timezone.now()
    )


def test_one_mail_per_change_of_state_through_the_email_queue(admins, author):
    first = periodic.health_check()  # no worker, no scheduler: those two are bad from the start
    assert queues.get_queue("email").count == len(first) == 2
    subjects = deliver()
    assert sorted(s.split(":")[0] for s in subjects) == ["[Django] CRITICAL", "[Django] WARNING"]
    assert mail.outbox[0].to == ["ops@example.com"]

    assert periodic.health_check() == [] and deliver() == []  # nothing changed: no mail

    run = _fail_a_run(author)
    assert [c.split(" — ")[0] for c in periodic.health_check()] == ["WARNING: failures"]
    (subject,) = deliver()
    assert subject.startswith("[Django] WARNING: failures — 1 run(s) failed in the last hour")
    for _ in range(3):
        assert periodic.health_check() == []  # still bad: no storm
    assert deliver() == []

    GenerationRun.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(hours=2))
    changes = periodic.health_check()
    assert [c.split(" — ")[0] for c in changes] == ["RECOVERED: failures"]
    (subject,) = deliver()
    assert subject.startswith("[Django] RECOVERED: failures")
    assert AlertState.objects.get(name="failures").level == "ok"
    assert "went from warning to ok" in mail.outbox[-1].body


def test_two_evaluations_of_the_same_change_send_one_mail(admins, author):
    alerts.alerts_evaluate()
    deliver()
    _fail_a_run(author)
    results = alerts.health.run_checks()
    assert len(alerts.alerts_evaluate(results)) == 1
    assert alerts.alerts_evaluate(results) == []  # e.g. the cron line right after the job
    assert len(deliver()) == 1
