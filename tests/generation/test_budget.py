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
from generation.models import GenerationRun, RunSpend, RunStatus
from generation.operations import budget
from generation.queues import job_id_for
from generation.runs import service
from tests.generation.test_admin import GENERATE_URL, _form
from tests.workers import running_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

PRICE = 60  # USD per 1M tokens, prompt and completion, for the stand-in models
REFUSAL = "has reached the daily budget $0.50 (GENERATION_DAILY_BUDGET_USD)"


@pytest.fixture
def spent(settings, author) -> GenerationRun:
    """A budget of $0.50 and a run today that cost $0.60."""
    settings.GENERATION_DAILY_BUDGET_USD = Decimal("0.50")
    settings.ADMINS = [("Ops", "ops@example.com")]
    run = GenerationRun.objects.create(
        author=author, topic="Redis", status=RunStatus.SUCCEEDED, cost_usd=Decimal("0.6")
    )
    _spend(run, "0.6")
    return run


def _spend(run: GenerationRun, usd: str, *, days_ago: int = 0) -> None:
    """What `run` spent on LLM calls `days_ago` days ago (the budget's ledger)."""
    day = timezone.localdate() - timedelta(days=days_ago)
    RunSpend.objects.create(run=run, attempt=1, day=day, cost_usd=Decimal(usd))


def test_under_budget_runs_are_queued(settings, author):
    settings.GENERATION_DAILY_BUDGET_USD = Decimal("5")
    _spend(GenerationRun.objects.create(author=author, cost_usd=Decimal("4.99")), "4.99")
    assert budget.budget_allows_runs()
    assert len(service.enqueue_posts(count=2, topic="Redis", author=author)) == 2


def test_yesterdays_spend_does_not_count(settings, author):
    settings.GENERATION_DAILY_BUDGET_USD = Decimal("0.50")
    run = GenerationRun.objects.create(author=author, cost_usd=Decimal("9"))
    _spend(run, "9", days_ago=1)
    assert budget.spend_today() == 0 and budget.budget_allows_runs()


def test_money_counts_on_the_day_it_is_spent_not_the_day_asked(settings, author):
    """A run asked for yesterday (delayed) that spends today spends today's budget."""
    settings.GENERATION_DAILY_BUDGET_USD = Decimal("0.50")
    run = GenerationRun.objects.create(author=author, cost_usd=Decimal("0.6"))
    GenerationRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(days=1))
    _spend(run, "0.6")
    assert budget.spend_today() == Decimal("0.6") and not budget.budget_allows_runs()


@pytest.mark.workers
def test_delayed_runs_cannot_slip_past_a_one_dollar_budget(settings, fast_env, author):
    """The review's slip: runs asked for yesterday, delayed into today. Each meets the gate
    when it starts; the total spent today stays within one run's cost of the budget."""
    runs = service.enqueue_posts(count=5, topic="Redis and job queues", author=author, delay=1)
    ids = [run.pk for run in runs]
    GenerationRun.objects.filter(pk__in=ids).update(created_at=timezone.now() - timedelta(days=1))
    # Priced so that a stand-in post costs roughly $0.3-0.5: two or three fit in $1.
    prices = f"standin-writer={PRICE}:{PRICE},standin-fast={PRICE}:{PRICE}"
    env = {**fast_env, "GENERATION_DAILY_BUDGET_USD": "1", "GENERATION_PRICES": prices}

    def settled() -> bool:
        rows = GenerationRun.objects.filter(pk__in=ids)
        return all(
            r.status == RunStatus.SUCCEEDED or (r.status == RunStatus.QUEUED and r.status_note)
            for r in rows
        )

    with running_worker(env):
        wait_for(settled, timeout=180)
    rows = list(GenerationRun.objects.filter(pk__in=ids))
    done = [r for r in rows if r.status == RunStatus.SUCCEEDED]
    waiting = [r for r in rows if r.status == RunStatus.QUEUED]
    spent = budget.spend_today()
    one_run = max(r.cost_usd for r in done)
    print(f"spent ${spent} on {len(done)} runs (max ${one_run}); {len(waiting)} waiting")
    assert spent == sum((r.cost_usd for r in rows), Decimal(0))  # all of it booked today
    assert done and waiting and spent <= Decimal(1) + one_run
    for run in waiting:
        assert run.attempts == 0 and "Waiting for the daily budget" in run.status_note
        assert run.next_retry_at > timezone.now()


@pytest.mark.workers
def test_a_failed_run_requeued_in_rq_meets_the_gate(settings, fast_env, author):
    """Requeueing a failed job from the dashboard (or `rq requeue`) skips no gate."""
    (run,) = service.enqueue_posts(count=1, topic="Redis", author=author)
    queue = queues.get_queue()
    job = queue.fetch_job(job_id_for(run.pk))
    GenerationRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, attempts=4)
    queue.remove(job)
    queue.failed_job_registry.add(job, ttl=600, exc_string="boom")
    _spend(GenerationRun.objects.create(author=author, cost_usd=Decimal("0.6")), "0.6")
    queue.failed_job_registry.requeue(job.id)
    env = {**fast_env, "GENERATION_DAILY_BUDGET_USD": "0.50"}
    with running_worker(env):
        wait_for(lambda: GenerationRun.objects.get(pk=run.pk).status_note, timeout=60)
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED and run.post_id is None
    assert "Waiting for the daily budget" in run.status_note


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
    _spend(GenerationRun.objects.create(author=author, cost_usd=Decimal("0.6")), "0.6")
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
