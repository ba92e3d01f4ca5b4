"""Schedules: turning due occurrences into runs, once each, and changing schedules.

`schedules_tick` is what the periodic job (rq-scheduler, every SCHEDULE_TICK_SECONDS)
calls; `schedule_run_now` is `manage.py schedule_run`. Both go through `_fire`, which
records the occurrence and asks `generation.runs.service.enqueue_posts` for the runs in one
transaction: the occurrence row is unique per (schedule, due time) and the schedule's row
is locked while it is handled, so two schedulers, two workers or a retried job never
enqueue an occurrence twice.

Due times come from generation.cron (the schedule's wall clock, right across DST). When
the scheduler was down, only the latest due time found within SCHEDULE_GRACE_SECONDS
runs (one catch-up per schedule); older ones are recorded as missed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string
from redis.exceptions import RedisError

from generation import cron
from generation.exceptions import BudgetExceeded, InvalidRequest, QueueUnavailable
from generation.models import (
    GenerationSchedule,
    OccurrenceOutcome,
    OccurrenceTrigger,
    Origin,
    ScheduleOccurrence,
)
from generation.operations import budget, pause
from generation.runs import service
from generation.runs.request import request_build
from generation.runs.selectors import duration_label
from generation.scheduling import selectors

logger = logging.getLogger(__name__)

# After a long outage an every-minute schedule owes thousands of due times: record the
# latest ones as missed, not all of them.
MISSED_RECORD_MAX = 100
TIMING_FIELDS = ("cron", "timezone")

# What the tick reads the time from: an aware datetime each call.
Clock = Callable[[], datetime]


# --- The scheduler's tick --------------------------------------------------------------------


def schedules_tick(
    *, now: datetime | None = None, clock: Clock = timezone.now
) -> list[ScheduleOccurrence]:
    """Handle the due occurrences of every enabled schedule at `now` (by default, what
    `clock` reads); returns those recorded.

    One schedule's failure (a bad stored expression, Redis gone) is logged and never stops
    the others; the next tick tries again.
    """
    now = now or clock()
    recorded: list[ScheduleOccurrence] = []
    for schedule in selectors.schedules_enabled_with_last_due():
        try:
            # Most ticks find nothing due: only a schedule with something due is locked.
            if _unhandled_due_times(schedule, last=schedule.last_scheduled_due, now=now):
                recorded += schedule_tick(schedule_id=schedule.pk, now=now)
        except (InvalidRequest, QueueUnavailable) as exc:
            logger.error("Schedule %s not handled: %s", schedule.name, exc)
        except Exception:
            logger.exception("Schedule %s not handled; the next tick tries again", schedule.name)
    return recorded


def schedule_clock() -> Clock:
    """The clock the periodic tick reads: SCHEDULE_CLOCK, a dotted path to a callable."""
    try:
        clock: Clock = import_string(settings.SCHEDULE_CLOCK)
    except ImportError as exc:
        raise ImproperlyConfigured(f"SCHEDULE_CLOCK is invalid: {exc}") from None
    return clock


def schedule_tick(*, schedule_id: int, now: datetime) -> list[ScheduleOccurrence]:
    """Record this schedule's unhandled due times up to `now`: the latest runs if found
    within the grace period, the rest are missed."""

    def work() -> list[ScheduleOccurrence]:
        schedule = _locked(GenerationSchedule.objects.filter(pk=schedule_id))
        if schedule is None or not schedule.enabled:
            return []
        last = selectors.occurrence_last_scheduled_due(schedule.pk)  # read under the lock
        due = _unhandled_due_times(schedule, last=last, now=now)
        if not due:
            return []
        latest, older = due[0], due[1:]
        missed = _record_missed(schedule, older, now=now, reason=_superseded_reason())
        if (now - latest).total_seconds() > settings.SCHEDULE_GRACE_SECONDS:
            late = _late_reason(now - latest)
            return missed + _record_missed(schedule, [latest], now=now, reason=late)
        fired = _fire(schedule, due_at=latest, now=now, trigger=OccurrenceTrigger.SCHEDULER)
        return missed + ([fired] if fired else [])

    return _committed(work)


def _unhandled_due_times(
    schedule: GenerationSchedule, *, last: datetime | None, now: datetime
) -> list[datetime]:
    """Due times after the `last` handled one (and after `effective_from`), newest first."""
    expression = cron.cron_validate(schedule.cron)
    zone = cron.zone_validate(schedule.timezone)
    anchor = max(schedule.effective_from, last) if last else schedule.effective_from
    due: list[datetime] = []
    for instant in cron.occurrences_until(expression, zone, now):
        if instant <= anchor or len(due) > MISSED_RECORD_MAX:
            break
        due.append(instant)
    return due


def _superseded_reason() -> str:
    return "Missed: not handled at its due time; only the latest due time is caught up."


def _late_reason(late: timedelta) -> str:
    return (
        f"Missed: found {duration_label(late.total_seconds())} after its due time, beyond "
        f"SCHEDULE_GRACE_SECONDS ({settings.SCHEDULE_GRACE_SECONDS} s)."
    )


def _record_missed(
    schedule: GenerationSchedule, due_times: list[datetime], *, now: datetime, reason: str
) -> list[ScheduleOccurrence]:
    if not due_times:
        return []
    rows = [
        ScheduleOccurrence(
            schedule=schedule,
            due_at=due_at,
            outcome=OccurrenceOutcome.MISSED,
            message=reason,
            recorded_at=now,
        )
        for due_at in due_times
    ]
    ScheduleOccurrence.objects.bulk_create(rows, ignore_conflicts=True)
    logger.warning(
        "Schedule %s: %s occurrence(s) missed, the latest due %s: %s",
        schedule.name,
        len(rows),
        selectors.time_in_zone(due_times[0], schedule.timezone),
        reason,
    )
    return rows


# --- One occurrence --------------------------------------------------------------------------


def _fire(
    schedule: GenerationSchedule, *, due_at: datetime, now: datetime, trigger: str
) -> ScheduleOccurrence | None:
    """Record the occurrence and enqueue its runs, in the caller's transaction.

    None when this (schedule, due time) was already handled elsewhere.
    """
    try:
        with transaction.atomic():
            occurrence = ScheduleOccurrence.objects.create(
                schedule=schedule,
                due_at=due_at,
                trigger=trigger,
                outcome=OccurrenceOutcome.ENQUEUED,
                recorded_at=now,
            )
    except IntegrityError:
        logger.info("Schedule %s: occurrence due %s already handled", schedule.name, due_at)
        return None
    if schedule.without_overlapping and (active := selectors.schedule_active_run_ids(schedule.pk)):
        ids = ", ".join(f"#{pk}" for pk in active)
        reason = (
            f"Skipped: runs {ids} of an earlier occurrence are still queued, running or retrying."
        )
        return _settle(occurrence, OccurrenceOutcome.SKIPPED_OVERLAP, reason, level=logging.WARNING)
    if (spend := budget.budget_state()).exceeded:
        return _settle(
            occurrence, OccurrenceOutcome.SKIPPED_BUDGET, spend.message(), level=logging.WARNING
        )
    if paused := _paused():
        return _settle(occurrence, OccurrenceOutcome.SKIPPED_PAUSED, paused, level=logging.WARNING)
    return _enqueue(schedule, occurrence)


def _paused() -> str:
    """Why the occurrence is skipped while generation is paused ("" when it is not)."""
    try:
        state = pause.pause_state()
    except (RedisError, OSError):
        return ""  # enqueueing will say Redis is down
    return f"Skipped: {state.summary()}." if state else ""


def _enqueue(schedule: GenerationSchedule, occurrence: ScheduleOccurrence) -> ScheduleOccurrence:
    try:
        schedule_validate(schedule)
        with transaction.atomic():
            runs = service.enqueue_posts(**_request(schedule), occurrence_id=occurrence.pk)
    except BudgetExceeded as exc:  # spend reached the budget since the check above
        return _settle(
            occurrence, OccurrenceOutcome.SKIPPED_BUDGET, str(exc), level=logging.WARNING
        )
    except InvalidRequest as exc:  # permanent: retrying the same request cannot help
        return _settle(occurrence, OccurrenceOutcome.FAILED, str(exc), level=logging.ERROR)
    ids = [run.pk for run in runs]
    span = f"#{ids[0]}" if len(ids) == 1 else f"#{ids[0]}..#{ids[-1]}"
    message = f"{len(ids)} run(s) queued: {span}."
    return _settle(occurrence, OccurrenceOutcome.ENQUEUED, message, level=logging.INFO)


def _settle(
    occurrence: ScheduleOccurrence, outcome: str, message: str, *, level: int
) -> ScheduleOccurrence:
    occurrence.outcome, occurrence.message = outcome, message[:500]
    occurrence.save(update_fields=["outcome", "message"])
    logger.log(
        level,
        "Schedule %s: occurrence due %s (%s), %s late: %s",
        occurrence.schedule.name,
        selectors.time_in_zone(occurrence.due_at, occurrence.schedule.timezone),
        selectors.time_utc(occurrence.due_at),
        duration_label(occurrence.late_seconds),
        message,
    )
    return occurrence


def _committed(work: Callable[[], list[ScheduleOccurrence]]) -> list[ScheduleOccurrence]:
    """Run `work` in one transaction. Should Redis refuse the jobs after the commit (the
    service then removes their runs), the enqueued occurrences are removed too, so the
    next tick tries again instead of leaving an occurrence without runs."""
    done: list[ScheduleOccurrence] = []
    try:
        with transaction.atomic():
            done = work()
    except QueueUnavailable:
        enqueued = [o.pk for o in done if o.outcome == OccurrenceOutcome.ENQUEUED]
        ScheduleOccurrence.objects.filter(pk__in=enqueued).delete()
        raise
    return done


def _locked(queryset: QuerySet[GenerationSchedule]) -> GenerationSchedule | None:
    return queryset.select_for_update().first()


# --- Doors: run now, enable, disable, save ----------------------------------------------------


def schedule_validate(schedule: GenerationSchedule) -> None:
    """InvalidRequest, in one line naming the schedule, unless it could run as stored."""
    try:
        cron.cron_validate(schedule.cron)
        cron.zone_validate(schedule.timezone)
        if schedule.author_id is None and not settings.GENERATION_DEFAULT_AUTHOR:
            raise InvalidRequest("no author: choose one, or set GENERATION_DEFAULT_AUTHOR.")
        request_build(**_request(schedule))
    except InvalidRequest as exc:
        raise InvalidRequest(f"Schedule {schedule.name!r}: {exc}") from None


def _request(schedule: GenerationSchedule) -> dict:
    """What each of the schedule's occurrences asks the service for."""
    return {
        "count": schedule.count,
        "topic": schedule.topic,
        "publish": schedule.publish,
        "author": schedule.author_id,
        "category": schedule.category,
        "origin": Origin.SCHEDULE,
    }


def schedule_run_now(*, schedule_id: int, now: datetime | None = None) -> ScheduleOccurrence:
    """One occurrence now, through the scheduler's own path (overlap rule included).

    Works on a disabled schedule too; refuses an invalid one before writing anything.
    """
    now = now or timezone.now()

    def work() -> list[ScheduleOccurrence]:
        schedule = _locked(GenerationSchedule.objects.filter(pk=schedule_id))
        if schedule is None:
            raise InvalidRequest(f"Schedule #{schedule_id} no longer exists.")
        schedule_validate(schedule)
        fired = _fire(schedule, due_at=now, now=now, trigger=OccurrenceTrigger.MANUAL)
        if fired is None:
            raise InvalidRequest(f"Schedule {schedule.name!r} was run at this very instant.")
        return [fired]

    return _committed(work)[0]


@transaction.atomic
def schedule_set_enabled(
    *, schedule_id: int, enabled: bool, now: datetime | None = None
) -> tuple[GenerationSchedule, bool]:
    """Enable or disable; returns the schedule and whether it changed. Enabling checks the
    schedule first, and owes nothing from before: due times count from now."""
    schedule = _locked(GenerationSchedule.objects.filter(pk=schedule_id))
    if schedule is None:
        raise InvalidRequest(f"Schedule #{schedule_id} no longer exists.")
    if schedule.enabled == enabled:
        return schedule, False
    if enabled:
        schedule_validate(schedule)
        schedule.effective_from = now or timezone.now()
    schedule.enabled = enabled
    schedule.save(update_fields=["enabled", "effective_from", "updated_at"])
    logger.info("Schedule %s %s", schedule.name, "enabled" if enabled else "disabled")
    return schedule, True


def schedule_save(
    *, schedule: GenerationSchedule, now: datetime | None = None
) -> GenerationSchedule:
    """Save a new or edited schedule. When it is created, enabled or retimed (expression or
    zone), due times count from now: an edit never makes past due times owed."""
    before = GenerationSchedule.objects.filter(pk=schedule.pk).values(*TIMING_FIELDS, "enabled")
    previous = before.first() if schedule.pk else None
    retimed = previous is None or any(previous[f] != getattr(schedule, f) for f in TIMING_FIELDS)
    if retimed or (schedule.enabled and previous is not None and not previous["enabled"]):
        schedule.effective_from = now or timezone.now()
    schedule.save()
    return schedule
