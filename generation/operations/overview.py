"""Reads for the admin's generation overview: runs, success, stage times, spend, queues.

Runs count on the day they were requested (in TIME_ZONE), as in the run list's daily
table. Spend today and this month are the budget's own figures: money on the day it was
spent (`generation.budget`), so the overview and the budget's gate always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from statistics import median
from typing import Any

from django.db.models import Count, DateField, Q, QuerySet, Sum
from django.db.models.functions import TruncDate, TruncWeek
from django.utils import timezone
from redis.exceptions import RedisError

from blog.models import Post
from generation import ratelimit
from generation.models import STAGE_ORDER, GenerationRun, PostVerification, RunStatus
from generation.operations import budget, estimates, health, monitoring, pause

CHART_DAYS = 30
VERIFY_WEEKS = 8


@dataclass(frozen=True)
class Period:
    label: str
    runs: int
    succeeded: int
    failed: int
    cost_usd: Decimal

    @property
    def success_rate(self) -> float | None:
        """Succeeded of those that finished (succeeded or failed); None when none did."""
        finished = self.succeeded + self.failed
        return None if not finished else self.succeeded / finished


def _since(day: date) -> QuerySet[GenerationRun]:
    return GenerationRun.objects.filter(created_at__gte=budget.day_start(day))


def period_summary(label: str, first_day: date) -> Period:
    totals = _since(first_day).aggregate(
        runs=Count("id"),
        succeeded=Count("id", filter=Q(status=RunStatus.SUCCEEDED)),
        failed=Count("id", filter=Q(status=RunStatus.FAILED)),
        cost=Sum("cost_usd"),
    )
    return Period(
        label, totals["runs"], totals["succeeded"], totals["failed"], totals["cost"] or Decimal(0)
    )


def periods() -> list[Period]:
    today = timezone.localdate()
    return [
        period_summary("Today", today),
        period_summary("This week (since Monday)", today - timedelta(days=today.weekday())),
        period_summary("This month", today.replace(day=1)),
    ]


def stage_medians(*, days: int = CHART_DAYS) -> list[tuple[str, float | None, int]]:
    """(stage, median seconds, runs measured) over the runs that succeeded in `days` days."""
    since = timezone.localdate() - timedelta(days=days - 1)
    timings = _since(since).filter(status=RunStatus.SUCCEEDED).values_list("timings", flat=True)
    per_stage: dict[str, list[float]] = {stage: [] for stage in STAGE_ORDER}
    for timing in timings:
        for stage, seconds in (timing or {}).items():
            if stage in per_stage and isinstance(seconds, int | float):
                per_stage[stage].append(float(seconds))
    return [(s, median(v) if v else None, len(v)) for s, v in per_stage.items()]


def daily(*, days: int = CHART_DAYS) -> list[dict[str, Any]]:
    """Runs and spend for each of the last `days` days, oldest first, empty days included."""
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    rows = (
        _since(first)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(runs=Count("id"), cost=Sum("cost_usd"))
    )
    by_day = {row["day"]: row for row in rows}
    series = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        row = by_day.get(day, {})
        series.append(
            {"day": day, "runs": row.get("runs", 0), "cost_usd": row.get("cost") or Decimal(0)}
        )
    return series


def chart(series: list[dict[str, Any]], *, height: int = 60, bar: int = 12) -> dict[str, Any]:
    """Bar geometry for the template's inline SVG (runs above, spend below)."""
    top_runs = max((d["runs"] for d in series), default=0) or 1
    top_cost = max((d["cost_usd"] for d in series), default=0) or 1
    bars = [
        {
            "x": i * (bar + 2),
            "runs_y": round(height - height * d["runs"] / top_runs, 1),
            "runs_h": round(height * d["runs"] / top_runs, 1),
            "cost_y": height + 4,
            "cost_h": round(height * float(d["cost_usd"] / top_cost), 1),
            "title": f"{d['day']:%a %d %b}: {d['runs']} run(s), ${d['cost_usd']:.4f}",
            **d,
        }
        for i, d in enumerate(series)
    ]
    return {
        "bars": bars,
        "width": len(series) * (bar + 2),
        "total_height": 2 * height + 4,
        "bar": bar,
    }


@dataclass(frozen=True)
class VerifyWeek:
    """Living posts in one week (from Monday, TIME_ZONE): posts whose verification
    finished, of those the flagged ones, and posts an accepted refresh changed."""

    week: date
    verified: int
    flagged: int
    refreshed: int


def verification_weeks(*, weeks: int = VERIFY_WEEKS) -> list[VerifyWeek]:
    """The last `weeks` weeks, newest first, empty weeks included."""
    today = timezone.localdate()
    first = today - timedelta(days=today.weekday(), weeks=weeks - 1)
    since = budget.day_start(first)
    week = TruncWeek("finished_at", output_field=DateField())
    done = (
        PostVerification.objects.filter(status=PostVerification.Status.DONE, finished_at__gte=since)
        .exclude(outcome="")
        .annotate(week=week)
        .values("week")
        .annotate(
            verified=Count("post", distinct=True),
            flagged=Count(
                "post", distinct=True, filter=Q(outcome=PostVerification.Outcome.FLAGGED)
            ),
        )
    )
    refreshed = (
        Post.objects.filter(refreshed_at__gte=since)
        .annotate(week=TruncWeek("refreshed_at", output_field=DateField()))
        .values("week")
        .annotate(count=Count("id"))
    )
    by_week = {row["week"]: row for row in done}
    refreshes = {row["week"]: row["count"] for row in refreshed}
    series = []
    for offset in range(weeks):
        monday = first + timedelta(weeks=weeks - 1 - offset)
        row = by_week.get(monday, {})
        series.append(
            VerifyWeek(
                monday, row.get("verified", 0), row.get("flagged", 0), refreshes.get(monday, 0)
            )
        )
    return series


def queues_and_workers() -> dict[str, Any]:
    try:
        return {"redis": True, "paused": pause.pause_state(), **monitoring.queue_overview()}
    except (RedisError, OSError) as exc:
        return {"redis": False, "error": str(exc), "queues": [], "workers": [], "paused": None}


def rate_limits() -> list[ratelimit.ModelRate]:
    """Per LLM endpoint and model: tokens and requests a minute vs the limit, waits, 429s."""
    try:
        return ratelimit.report_from_settings(monitoring.connection())
    except (RedisError, OSError):
        return []


def overview() -> dict[str, Any]:
    series, today = daily(), timezone.localdate()
    return {
        "periods": periods(),
        "stage_medians": stage_medians(),
        "spend_today": budget.spend_today(),
        "spend_month": budget.spend_between(today.replace(day=1), today),
        "budget": budget.budget_state(),
        "estimates": estimates.estimate_accuracy(),
        "daily": series,
        "chart": chart(series),
        "checks": health.run_checks(),
        "rate_limits": rate_limits(),
        "verification_weeks": verification_weeks(),
        **queues_and_workers(),
    }
