"""Reads of generation runs for the admin: the run list and its live status endpoint.

The admin's list columns and the JSON the list polls come from the same functions, so a
row looks the same whether the page drew it or the poller refreshed it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from generation.models import ACTIVE_STATUSES, GenerationRun, RunStatus
from generation.operations.budget import day_start
from generation.runs.progress import RunRow

STATUS_IDS_MAX = 500


def run_list_admin() -> QuerySet[GenerationRun]:
    """Runs with what the admin list shows, in one query."""
    return GenerationRun.objects.select_related("post", "author")


def run_is_active(run: GenerationRun) -> bool:
    return run.status in ACTIVE_STATUSES


def run_attempt_label(run: GenerationRun) -> str:
    """`2/4`: the attempt under way (or last made) out of the attempts allowed; a run
    failed for good by a permanent error reads `1 (permanent failure, no retry)`."""
    last = run.errors[-1] if run.errors and isinstance(run.errors[-1], dict) else {}
    if run.status == RunStatus.FAILED and last.get("kind") == "permanent":
        return f"{run.attempts} (permanent failure, no retry)"
    return f"{run.attempts}/{run.max_attempts}"


def run_duration_seconds(run: GenerationRun, *, now: datetime | None = None) -> float | None:
    """Seconds from start to finish, or to now while the run is still going."""
    if not run.started_at:
        return None
    end = run.finished_at or (now or timezone.now())
    return max((end - run.started_at).total_seconds(), 0.0)


def duration_label(seconds: float | None) -> str:
    """`42s`, `3m 05s`, `1h 02m`; a dash when there is nothing to measure."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def cost_label(cost: Decimal | float) -> str:
    return f"${Decimal(cost):.4f}"


def run_post_links(run: GenerationRun) -> dict[str, str]:
    """The post's admin and public addresses (empty strings while there is no post)."""
    if run.post_id is None:
        return {"post_title": "", "post_admin_url": "", "post_url": "", "post_state": ""}
    post = run.post
    assert post is not None  # post_id is set
    try:
        public = post.get_absolute_url()
    except NoReverseMatch:
        public = ""  # the public blog URLs are not installed: the admin link still works
    return {
        "post_title": post.title,
        "post_admin_url": reverse("admin:blog_post_change", args=[post.pk]),
        "post_url": public,
        "post_state": post.get_status_display().lower(),  # draft, published, ...
    }


def run_status_row(run: GenerationRun, *, now: datetime | None = None) -> dict[str, Any]:
    """One run as the live admin list needs it."""
    seconds = run_duration_seconds(run, now=now)
    return {
        "id": run.pk,
        "status": run.status,
        "status_label": run.get_status_display(),
        "status_note": run.status_note,
        "active": run_is_active(run),
        "stage": run.stage,
        "stage_label": run.get_stage_display() if run.stage else "—",
        "attempt": run_attempt_label(run),
        "duration_seconds": None if seconds is None else round(seconds, 1),
        "duration": duration_label(seconds),
        "tokens": run.total_tokens,
        "tokens_label": f"{run.total_tokens:,}",
        "cost_usd": str(run.cost_usd),
        "cost": cost_label(run.cost_usd),
        "citations": f"{run.citations_verified}/{run.citations_total}",
        **run_post_links(run),
    }


def runs_status(run_ids: list[int]) -> list[dict[str, Any]]:
    """Status rows for the given run ids (unknown ids are left out), newest first."""
    now = timezone.now()
    runs = run_list_admin().filter(pk__in=run_ids[:STATUS_IDS_MAX])
    return [run_status_row(run, now=now) for run in runs]


def usage_by_day(*, days: int = 7) -> list[dict[str, Any]]:
    """Runs, tokens and estimated cost per day (in TIME_ZONE), newest day first.

    A run counts on the day it was requested, as for the budget and the overview.
    """
    since = day_start(timezone.localdate() - timedelta(days=days - 1))
    rows = (
        GenerationRun.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            runs=Count("id"),
            prompt_tokens=Sum("prompt_tokens"),
            completion_tokens=Sum("completion_tokens"),
            cost_usd=Sum("cost_usd"),
        )
        .order_by("-day")
    )
    return [
        {
            "day": row["day"].isoformat(),
            "runs": row["runs"],
            "tokens": (row["prompt_tokens"] or 0) + (row["completion_tokens"] or 0),
            "tokens_label": f"{(row['prompt_tokens'] or 0) + (row['completion_tokens'] or 0):,}",
            "cost_usd": str(row["cost_usd"] or Decimal(0)),
            "cost": cost_label(row["cost_usd"] or 0),
        }
        for row in rows
    ]


def runs_progress_rows(run_ids: list[int]) -> list[RunRow]:
    """What a progress watcher needs of each run, in one query."""
    rows = GenerationRun.objects.filter(pk__in=run_ids).values_list(
        "pk", "status", "stage", "attempts", "max_attempts", "timings"
    )
    return [RunRow(*row) for row in rows]
