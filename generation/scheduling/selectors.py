"""Reads of generation schedules: for the scheduler, the admin and the schedule_* commands.

The writes are in generation.scheduling.service; times are computed by generation.cron.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypedDict

from django.db.models import Max, OuterRef, QuerySet, Subquery
from django.utils import timezone

from generation import cron
from generation.exceptions import InvalidRequest
from generation.models import (
    ACTIVE_STATUSES,
    GenerationRun,
    GenerationSchedule,
    OccurrenceTrigger,
    ScheduleOccurrence,
)

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _LastDue(TypedDict):
    last_scheduled_due: datetime | None


def schedules_enabled_with_last_due() -> QuerySet[WithAnnotations[GenerationSchedule, _LastDue]]:
    """Enabled schedules, each with the latest due time the scheduler handled, one query."""
    last = ScheduleOccurrence.objects.filter(
        schedule=OuterRef("pk"), trigger=OccurrenceTrigger.SCHEDULER
    ).order_by("-due_at")
    return GenerationSchedule.objects.filter(enabled=True).annotate(
        last_scheduled_due=Subquery(last.values("due_at")[:1])
    )


def schedule_by_name(name: str) -> GenerationSchedule:
    """The schedule called `name`, or InvalidRequest listing the known names."""
    schedule = GenerationSchedule.objects.filter(name=(name or "").strip()).first()
    if schedule is None:
        known = ", ".join(GenerationSchedule.objects.values_list("name", flat=True)) or "none"
        raise InvalidRequest(f"No schedule named {name!r} (known: {known}).")
    return schedule


def occurrence_last_scheduled_due(schedule_id: int) -> datetime | None:
    """The latest due time the scheduler handled (manual runs are not due times)."""
    return ScheduleOccurrence.objects.filter(
        schedule_id=schedule_id, trigger=OccurrenceTrigger.SCHEDULER
    ).aggregate(last=Max("due_at"))["last"]


def schedule_active_run_ids(schedule_id: int, *, limit: int = 10) -> list[int]:
    """Runs of this schedule still queued, running or retrying (oldest first)."""
    runs = GenerationRun.objects.filter(
        schedule_occurrence__schedule_id=schedule_id, status__in=ACTIVE_STATUSES
    ).order_by("pk")
    return list(runs.values_list("pk", flat=True)[:limit])


def schedule_next_due(schedule: GenerationSchedule, *, now: datetime) -> datetime | None:
    """The next due time after `now` (None when the expression or zone is invalid)."""
    try:
        zone = cron.zone_validate(schedule.timezone)
        return cron.occurrence_next(cron.cron_validate(schedule.cron), zone, now)
    except InvalidRequest:
        return None


def schedule_problem(schedule: GenerationSchedule) -> str:
    """What is wrong with the stored expression or zone, in one line ('' when fine)."""
    try:
        cron.cron_validate(schedule.cron)
        cron.zone_validate(schedule.timezone)
    except InvalidRequest as exc:
        return str(exc)
    return ""


def schedules_with_last_occurrence() -> QuerySet[GenerationSchedule]:
    """Schedules, each annotated with its last occurrence (due time, outcome, message)."""
    last = ScheduleOccurrence.objects.filter(schedule=OuterRef("pk")).order_by("-due_at", "-pk")
    return GenerationSchedule.objects.select_related("author").annotate(
        last_due_at=Subquery(last.values("due_at")[:1]),
        last_outcome=Subquery(last.values("outcome")[:1]),
        last_message=Subquery(last.values("message")[:1]),
    )


def time_in_zone(instant: datetime | None, zone_name: str) -> str:
    """'2026-03-08 09:00 EDT' (the zone's wall clock), '—' for nothing."""
    if instant is None:
        return "—"
    try:
        zone = cron.zone_validate(zone_name)
    except InvalidRequest:
        zone = UTC  # type: ignore[assignment]  # a tzinfo like ZoneInfo; astimezone takes either
    return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def time_utc(instant: datetime | None) -> str:
    return "—" if instant is None else instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.astimezone(UTC).isoformat()


def schedule_row(schedule: GenerationSchedule, *, now: datetime) -> dict[str, Any]:
    """One schedule as schedule_list prints it (and --json emits it)."""
    next_due = None if not schedule.enabled else schedule_next_due(schedule, now=now)
    outcome = getattr(schedule, "last_outcome", None)
    return {
        "name": schedule.name,
        "enabled": schedule.enabled,
        "cron": schedule.cron,
        "description": cron.cron_describe(schedule.cron),
        "timezone": schedule.timezone,
        "count": schedule.count,
        "publish": schedule.publish,
        "topic": schedule.topic,
        "without_overlapping": schedule.without_overlapping,
        "next_local": time_in_zone(next_due, schedule.timezone) if next_due else "—",
        "next_utc": _iso(next_due),
        "last_local": time_in_zone(getattr(schedule, "last_due_at", None), schedule.timezone),
        "last_utc": _iso(getattr(schedule, "last_due_at", None)),
        "last_outcome": outcome or "",
        "last_message": getattr(schedule, "last_message", None) or "",
        "problem": schedule_problem(schedule),
    }


def schedule_rows(*, now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or timezone.now()
    return [schedule_row(s, now=now) for s in schedules_with_last_occurrence()]


def occurrences_of(schedule_id: int, *, limit: int = 50) -> QuerySet[ScheduleOccurrence]:
    """A schedule's latest occurrences with their runs (for the admin)."""
    return (
        ScheduleOccurrence.objects.filter(schedule_id=schedule_id)
        .select_related("schedule")
        .prefetch_related("runs")
        .order_by("-due_at", "-pk")[:limit]
    )
