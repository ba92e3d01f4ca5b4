"""GENERATION_DAILY_BUDGET_USD: new runs refused from every door, queued runs wait without
failing, schedules can ask, and the admins hear about it once."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rq.job import Job

from generation import queues
from generation.exceptions import BudgetExceeded
from generation.models import GenerationRun, RunStatus
from generation.operations import budget
from generation.queues import job_id_for
from generation.runs import service
from tests.generation.test_admin import GENERATE_URL, _form
from tests.workers import running_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

REFUSAL = "has reached the daily budget $0.50 (GENERATION_DAILY_BUDGET_USD)"


@pytest.fixture
def spent(settings, author) -> GenerationRun:
    """A budget of $0.50 and a run today that cost $0.60."""
    settings.GENERATION_DAILY_BUDGET_USD = Decimal("0.50")
    settings.ADMINS = [("Ops", "ops@example.com")]
    return GenerationRun.objects.create(
        author=author, topic="Redis", status=RunStatus.SUCCEEDED, cost_usd=Decimal("0.6")
    )


def test_under_budget_runs_are_queued(settings, author):
    settings.GENERATION_DAILY_BUDGET_USD = Decimal("5")
    GenerationRun.objects.create(author=author, cost_usd=Decimal("4.99"))
    assert budget.budget_allows_runs()
    assert len(service.enqueue_posts(count=2, topic="Redis", author=author)) == 2


def test_yesterdays_spend_does_not_count(settings, author):
    settings.GENERATION_DAILY_BUDGET_USD = Decimal("0.50")
    run = GenerationRun.objects.create(author=author, cost_usd=Decimal("9"))
    GenerationRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(days=1))
    assert budget.spend_today() == 0 and budget.budget_allows_runs()


def test_the_service_refuses_new_runs_and_writes_nothing(spent, author):
    with pytest.raises(BudgetExceeded, match=r"\$0\.6000 has reached the daily budget \$0\.50"):
        service.enqueue_posts(count=2, topic="Redis", author=author)
    assert GenerationRun.objects.count() == 1 and queues.get_queue().count == 0
    assert not budget.budget_allows_runs()  # what a schedule asks before an occurrence


def test_both_commands_refuse_with_the_message(spent, author):
    for command in ("generate_deep_research_bg", "generate_deep_research"):
        with pytest.raises(CommandError, match=re.escape(REFUSAL)):
            call_command(command, "--topic=Redis", f"--author={author.pk}")
    assert GenerationRun.objects.count() == 1


def test_the_admin_button_refuses_with_the_message(spent, admin_client_):
    response = admin_client_.post(GENERATE_URL, _form())
    assert response.status_code == 200
    assert REFUSAL in response.content.decode()
    assert GenerationRun.objects.count() == 1


def test_refusals_alert_the_admins_once(spent, author):
    for _ in range(3):
        with pytest.raises(BudgetExceeded):
            service.enqueue_posts(count=1, topic="Redis", author=author)
    (job,) = queues.get_queue("email").get_jobs()
    assert job.args[0].startswith("WARNING: budget")


@pytest.mark.workers
def test_a_queued_run_waits_for_the_budget_without_failing(settings, fast_env, author):
    (run,) = service.enqueue_posts(count=1, topic="Redis", author=author)  # queued before
    GenerationRun.objects.create(author=author, cost_usd=Decimal("0.6"))  # then spent
    settings.ADMINS = [("Ops", "ops@example.com")]
    env = {**fast_env, "GENERATION_DAILY_BUDGET_USD": "0.50", "ADMINS": "ops@example.com"}
    scheduled = queues.get_queue().scheduled_job_registry
    with running_worker(env):
        wait_for(lambda: job_id_for(run.pk) in scheduled.get_job_ids(), timeout=60)
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED and run.attempts == 0 and run.errors == []
    assert run.next_retry_at > timezone.now() + timedelta(seconds=budget.RECHECK_SECONDS - 60)
    job = Job.fetch(job_id_for(run.pk), connection=queues.get_queue().connection)
    assert job.get_status() == "scheduled" and job.retries_left == 3  # no retry spent
    (alert,) = queues.get_queue("email").get_jobs()
    assert alert.args[0].startswith("WARNING: budget")
