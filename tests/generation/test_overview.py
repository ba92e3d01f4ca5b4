"""The admin overview and the run list's daily table agree with the runs they sum."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from statistics import median

import pytest
from django.utils import timezone

from generation.models import GenerationRun, RunSpend, RunStatus
from generation.operations import budget, overview
from generation.runs import selectors

pytestmark = pytest.mark.django_db

OVERVIEW_URL = "/admin/generation/overview/"


def _run(
    author, *, days_ago: int = 0, status=RunStatus.SUCCEEDED, cost="0", tokens=(0, 0), timings=None
):
    run = GenerationRun.objects.create(
        author=author,
        topic="Redis",
        status=status,
        cost_usd=Decimal(cost),
        prompt_tokens=tokens[0],
        completion_tokens=tokens[1],
        timings=timings or {},
    )
    created = budget.day_start(timezone.localdate() - timedelta(days=days_ago)) + timedelta(
        hours=12
    )
    created = min(created, timezone.now())
    GenerationRun.objects.filter(pk=run.pk).update(created_at=created)
    # Spent on the day it was asked for: the budget's ledger and the run agree here.
    RunSpend.objects.create(run=run, day=timezone.localdate(created), cost_usd=run.cost_usd)
    return run


@pytest.fixture
def runs(author):
    return [
        _run(author, cost="0.0123", tokens=(7000, 466), timings={"topic": 1.0, "research": 4.0}),
        _run(author, cost="0.0200", tokens=(7000, 699), timings={"topic": 3.0, "research": 8.0}),
        _run(author, status=RunStatus.FAILED, cost="0.0050", tokens=(1000, 10)),
        _run(author, status=RunStatus.RUNNING, cost="0.0010"),
        _run(author, days_ago=3, cost="0.1000", timings={"topic": 2.0}),
        _run(author, days_ago=3, status=RunStatus.FAILED),
        _run(author, days_ago=45, cost="9.0000", timings={"topic": 100.0}),
    ]


def _expected(runs, first_day):
    start = budget.day_start(first_day)
    chosen = [
        r
        for r in GenerationRun.objects.filter(pk__in=[r.pk for r in runs])
        if r.created_at >= start
    ]
    return chosen


def test_period_figures_are_sums_of_their_runs(runs):
    today = timezone.localdate()
    for period, first_day in zip(
        overview.periods(),
        [today, today - timedelta(days=today.weekday()), today.replace(day=1)],
        strict=True,
    ):
        chosen = _expected(runs, first_day)
        assert period.runs == len(chosen)
        assert period.succeeded == sum(r.status == RunStatus.SUCCEEDED for r in chosen)
        assert period.failed == sum(r.status == RunStatus.FAILED for r in chosen)
        assert period.cost_usd == sum((r.cost_usd for r in chosen), Decimal(0))
    today_period = overview.periods()[0]
    assert (today_period.runs, today_period.succeeded, today_period.failed) == (4, 2, 1)
    assert today_period.success_rate == pytest.approx(2 / 3)
    assert today_period.cost_usd == Decimal("0.0383")


def test_stage_medians_and_daily_series_match_the_runs(runs):
    medians = {stage: (value, count) for stage, value, count in overview.stage_medians()}
    assert medians["topic"] == (median([1.0, 3.0, 2.0]), 3)  # the 45-day-old run is out
    assert medians["research"] == (6.0, 2)
    assert medians["publish"] == (None, 0)
    series = overview.daily()
    assert len(series) == 30 and series[-1]["day"] == timezone.localdate()
    assert series[-1]["runs"] == 4 and series[-1]["cost_usd"] == Decimal("0.0383")
    assert series[-4]["runs"] == 2 and series[-4]["cost_usd"] == Decimal("0.1")
    assert sum(day["runs"] for day in series) == 6


def test_overview_page_shows_the_same_figures(runs, admin_client_):
    page = admin_client_.get(OVERVIEW_URL).content.decode()
    assert re.search(
        r"<td>Today</td><td>4</td><td>2</td><td>1</td>\s*<td>67%</td>\s*<td>\$0\.0383</td>", page
    )
    assert "Spend today <strong>$0.0383</strong>" in page
    month = sum(
        (
            r.cost_usd
            for r in GenerationRun.objects.all()
            if r.created_at >= budget.day_start(timezone.localdate().replace(day=1))
        ),
        Decimal(0),
    )
    assert f"this month <strong>${month:.4f}</strong>" in page
    assert "<td>topic</td><td>2.0s</td><td>3</td>" in page
    assert 'id="overview-queues"' in page and 'id="overview-health"' in page
    assert page.count('class="chart-runs"') == 30


def test_overview_is_for_staff_who_may_view_runs(client, django_user_model, runs):
    assert client.get(OVERVIEW_URL).status_code == 302
    clerk = django_user_model.objects.create_user(
        username="clerk", password="x-12345678", is_staff=True
    )
    client.force_login(clerk)
    assert client.get(OVERVIEW_URL).status_code == 403


def test_seven_day_table_sums_tokens_and_cost_of_its_runs(runs):
    rows = {row["day"]: row for row in selectors.usage_by_day()}
    today = rows[timezone.localdate().isoformat()]
    assert today["runs"] == 4
    assert today["tokens"] == 7466 + 7699 + 1010
    assert today["tokens_label"] == "16,175" and today["cost"] == "$0.0383"
    assert len(rows) == 2  # the 45-day-old run is not in the last 7 days


def test_the_daily_table_is_refreshed_with_the_live_status(runs, admin_client_):
    running = next(r for r in runs if r.status == RunStatus.RUNNING)
    before = admin_client_.get(f"/admin/generation/runs/status.json?ids={running.pk}").json()
    GenerationRun.objects.filter(pk=running.pk).update(
        status=RunStatus.SUCCEEDED, prompt_tokens=1000, cost_usd=Decimal("0.0110")
    )
    after = admin_client_.get(f"/admin/generation/runs/status.json?ids={running.pk}").json()
    assert before["usage_by_day"][0]["cost"] == "$0.0383"
    assert (
        after["usage_by_day"][0]["cost"] == "$0.0483"
        and after["usage_by_day"][0]["tokens"] == 17175
    )
