"""The scheduler's tick with a travelled clock: DST, catch-up, overlap, outcomes, races.

`schedules_tick(now=...)` is the periodic job's own function, given the time instead of
reading it: the clock travels, nothing is patched. Runs and jobs are real (PostgreSQL,
Redis), so every test can look at the content queue.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import django_rq
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from generation.models import (
    GenerationRun,
    OccurrenceOutcome,
    OccurrenceTrigger,
    Origin,
    RunSpend,
    RunStatus,
    ScheduleOccurrence,
)
from generation.queues import job_id_for
from generation.scheduling import periodic
from generation.scheduling import service as scheduling
from tests.factories import make_schedule

pytestmark = pytest.mark.django_db(transaction=True)  # jobs reach Redis after commit


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def travel(start: datetime, end: datetime, step: timedelta) -> Iterator[datetime]:
    moment = start
    while moment <= end:
        yield moment
        moment += step


def tick_through(start: datetime, end: datetime, step: timedelta) -> None:
    for now in travel(start, end, step):
        scheduling.schedules_tick(now=now)


def due_times(schedule) -> list[datetime]:
    return list(schedule.occurrences.order_by("due_at").values_list("due_at", flat=True))


def content_job_ids() -> list[str]:
    return django_rq.get_queue("content").job_ids


# --- DST: each occurrence once, at the right UTC instant ------------------------------------


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # Clocks go forward on Sunday 2026-03-08: 09:00 EST is 14:00 UTC, 09:00 EDT 13:00.
        (utc(2026, 3, 7), [utc(2026, 3, 7, 14), utc(2026, 3, 8, 13), utc(2026, 3, 9, 13)]),
        # Clocks go back on Sunday 2026-11-01: 09:00 EDT is 13:00 UTC, 09:00 EST 14:00.
        (utc(2026, 10, 31), [utc(2026, 10, 31, 13), utc(2026, 11, 1, 14), utc(2026, 11, 2, 14)]),
    ],
    ids=["march", "november"],
)
def test_nine_new_york_fires_once_a_day_at_the_right_instant_across_dst(author, start, expected):
    schedule = make_schedule(
        "daily",
        timezone="America/New_York",
        count=2,
        publish=True,
        author=author,
        without_overlapping=False,
        effective_from=start - timedelta(hours=1),
    )
    tick_through(start, start + timedelta(days=3) - timedelta(minutes=1), timedelta(minutes=10))

    assert due_times(schedule) == expected
    occurrences = list(schedule.occurrences.order_by("due_at"))
    assert {o.outcome for o in occurrences} == {OccurrenceOutcome.ENQUEUED}
    for occurrence in occurrences:
        assert occurrence.due_at.astimezone(schedule_zone(schedule)).hour == 9
        assert timedelta(0) <= occurrence.recorded_at - occurrence.due_at < timedelta(minutes=10)
        assert occurrence.runs.count() == 2
    runs = GenerationRun.objects.filter(schedule_occurrence__schedule=schedule)
    assert runs.count() == 6
    assert set(runs.values_list("origin", flat=True)) == {Origin.SCHEDULE}
    assert set(runs.values_list("publish", flat=True)) == {True}
    assert sorted(content_job_ids()) == sorted(job_id_for(run.pk) for run in runs)


def schedule_zone(schedule):
    from zoneinfo import ZoneInfo

    return ZoneInfo(schedule.timezone)


@pytest.mark.parametrize(
    ("cron", "first_day", "expected"),
    [
        # 2026-03-08 02:30 does not exist in New York (02:00 EST jumps to 03:00 EDT): it runs
        # once, as the clock jumps.
        (
            "30 2 * * *",
            utc(2026, 3, 7),
            [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30)],
        ),
        # 2026-11-01 01:30 happens twice (EDT, then EST): only the first runs.
        (
            "30 1 * * *",
            utc(2026, 10, 31),
            [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)],
        ),
    ],
    ids=["skipped-0230-march", "doubled-0130-november"],
)
def test_skipped_and_doubled_local_times_run_exactly_once(author, cron, first_day, expected):
    schedule = make_schedule(
        cron=cron,
        timezone="America/New_York",
        author=author,
        without_overlapping=False,
        effective_from=first_day,
    )
    # Minute by minute through the night of each of three days, the change in the middle.
    for day in range(3):
        night = first_day + timedelta(days=day)
        tick_through(night + timedelta(hours=5), night + timedelta(hours=8), timedelta(minutes=1))
    assert due_times(schedule) == expected
    occurrences = list(schedule.occurrences.order_by("due_at"))
    assert [o.recorded_at for o in occurrences] == expected  # found on the minute it fell due
    assert {o.outcome for o in occurrences} == {OccurrenceOutcome.ENQUEUED}
    assert [o.runs.count() for o in occurrences] == [1, 1, 1]
    assert len(content_job_ids()) == 3


# --- Catch-up and missed occurrences ----------------------------------------------------------


def test_after_downtime_only_the_latest_due_time_within_grace_runs(author, settings):
    settings.SCHEDULE_GRACE_SECONDS = 3600
    schedule = make_schedule(author=author, effective_from=utc(2026, 1, 1))
    # The scheduler was down from before Jan 1 09:00 until Jan 3 09:20.
    recorded = scheduling.schedules_tick(now=utc(2026, 1, 3, 9, 20))

    assert len(recorded) == 3
    by_due = {o.due_at: o for o in schedule.occurrences.all()}
    assert by_due[utc(2026, 1, 3, 9)].outcome == OccurrenceOutcome.ENQUEUED
    assert by_due[utc(2026, 1, 3, 9)].late_seconds == 20 * 60
    assert by_due[utc(2026, 1, 3, 9)].runs.count() == 1
    for older in (utc(2026, 1, 1, 9), utc(2026, 1, 2, 9)):
        assert by_due[older].outcome == OccurrenceOutcome.MISSED
        assert "only the latest due time is caught up" in by_due[older].message
        assert not by_due[older].runs.exists()
    # The next ticks find nothing new: the catch-up happened once.
    assert scheduling.schedules_tick(now=utc(2026, 1, 3, 9, 21)) == []
    assert GenerationRun.objects.count() == 1
    assert len(content_job_ids()) == 1


def test_a_due_time_found_beyond_the_grace_period_is_missed_not_run(author, settings, caplog):
    settings.SCHEDULE_GRACE_SECONDS = 3600
    schedule = make_schedule(author=author, effective_from=utc(2026, 1, 3))
    with caplog.at_level(logging.WARNING, logger="generation.scheduling.service"):
        scheduling.schedules_tick(now=utc(2026, 1, 3, 10, 30))
    missed = schedule.occurrences.get()
    assert missed.outcome == OccurrenceOutcome.MISSED
    assert missed.message == (
        "Missed: found 1h 30m after its due time, beyond SCHEDULE_GRACE_SECONDS (3600 s)."
    )
    assert "missed" in caplog.text and schedule.name in caplog.text
    assert not GenerationRun.objects.exists()
    # The next day's occurrence runs as usual.
    scheduling.schedules_tick(now=utc(2026, 1, 4, 9, 0, 30))
    assert schedule.occurrences.get(due_at=utc(2026, 1, 4, 9)).outcome == "enqueued"


def test_a_long_outage_records_a_bounded_number_of_missed_occurrences(author, settings):
    settings.SCHEDULE_GRACE_SECONDS = 120
    schedule = make_schedule(cron="* * * * *", author=author, effective_from=utc(2026, 1, 1))
    scheduling.schedules_tick(now=utc(2026, 1, 8))  # a week of every-minute due times
    outcomes = list(schedule.occurrences.values_list("outcome", flat=True))
    assert outcomes.count(OccurrenceOutcome.ENQUEUED) == 1
    assert outcomes.count(OccurrenceOutcome.MISSED) == scheduling.MISSED_RECORD_MAX
    assert schedule.occurrences.latest("due_at").due_at == utc(2026, 1, 8)


def test_enabling_or_retiming_owes_nothing_from_before(author):
    schedule = make_schedule(author=author, enabled=False, effective_from=utc(2026, 1, 1))
    scheduling.schedules_tick(now=utc(2026, 1, 5, 9, 1))
    assert not schedule.occurrences.exists()  # disabled: nothing, not even "missed"

    scheduling.schedule_set_enabled(
        schedule_id=schedule.pk, enabled=True, now=utc(2026, 1, 5, 9, 30)
    )
    scheduling.schedules_tick(now=utc(2026, 1, 5, 9, 31))
    assert not schedule.occurrences.exists()  # 09:00 came before it was enabled

    schedule.refresh_from_db()
    schedule.cron = "0 8 * * *"
    scheduling.schedule_save(schedule=schedule, now=utc(2026, 1, 6, 8, 30))
    scheduling.schedules_tick(now=utc(2026, 1, 6, 8, 31))
    assert not schedule.occurrences.exists()  # the new 08:00 came before the edit
    scheduling.schedules_tick(now=utc(2026, 1, 7, 8, 0, 5))
    assert due_times(schedule) == [utc(2026, 1, 7, 8)]


# --- Without overlapping ----------------------------------------------------------------------


def test_overlap_skips_while_earlier_runs_are_unfinished_and_says_so(author, caplog):
    schedule = make_schedule(author=author, count=2, effective_from=utc(2026, 1, 1))
    scheduling.schedules_tick(now=utc(2026, 1, 1, 9, 1))
    first = schedule.occurrences.get()
    run_ids = sorted(first.runs.values_list("pk", flat=True))
    GenerationRun.objects.filter(pk=run_ids[0]).update(status=RunStatus.SUCCEEDED)
    GenerationRun.objects.filter(pk=run_ids[1]).update(status=RunStatus.RETRYING)

    with caplog.at_level(logging.WARNING, logger="generation.scheduling.service"):
        scheduling.schedules_tick(now=utc(2026, 1, 2, 9, 1))
    skipped = schedule.occurrences.get(due_at=utc(2026, 1, 2, 9))
    assert skipped.outcome == OccurrenceOutcome.SKIPPED_OVERLAP
    assert skipped.message == (
        f"Skipped: runs #{run_ids[1]} of an earlier occurrence are still queued, running or "
        "retrying."
    )
    assert not skipped.runs.exists()
    warning = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warning) == 1 and f"#{run_ids[1]}" in warning[0].getMessage()
    assert schedule.name in warning[0].getMessage()

    GenerationRun.objects.filter(pk=run_ids[1]).update(status=RunStatus.FAILED)
    scheduling.schedules_tick(now=utc(2026, 1, 3, 9, 1))
    third = schedule.occurrences.get(due_at=utc(2026, 1, 3, 9))
    assert third.outcome == OccurrenceOutcome.ENQUEUED and third.runs.count() == 2
    assert len(content_job_ids()) == 4


def test_without_overlapping_off_runs_alongside_unfinished_runs(author):
    schedule = make_schedule(
        author=author, without_overlapping=False, effective_from=utc(2026, 1, 1)
    )
    scheduling.schedules_tick(now=utc(2026, 1, 1, 9, 1))
    scheduling.schedules_tick(now=utc(2026, 1, 2, 9, 1))
    assert list(schedule.occurrences.values_list("outcome", flat=True)) == ["enqueued"] * 2
    assert GenerationRun.objects.filter(status=RunStatus.QUEUED).count() == 2


def test_over_budget_an_occurrence_is_skipped_and_recorded_with_why(author, settings, caplog):
    settings.GENERATION_DAILY_BUDGET_USD = Decimal("0.05")
    run = GenerationRun.objects.create(author=author, status=RunStatus.SUCCEEDED, cost_usd="0.05")
    RunSpend.objects.create(run=run, day=timezone.localdate(), cost_usd=run.cost_usd)
    schedule = make_schedule(author=author, effective_from=utc(2026, 1, 1))
    with caplog.at_level(logging.WARNING, logger="generation.scheduling.service"):
        scheduling.schedules_tick(now=utc(2026, 1, 1, 9, 1))
    occurrence = schedule.occurrences.get()
    assert occurrence.outcome == OccurrenceOutcome.SKIPPED_BUDGET
    assert "has reached the daily budget $0.05" in occurrence.message
    assert "has reached the daily budget" in caplog.text
    assert GenerationRun.objects.count() == 1 and content_job_ids() == []

    settings.GENERATION_DAILY_BUDGET_USD = Decimal("1.00")  # raised: the next one runs
    scheduling.schedules_tick(now=utc(2026, 1, 2, 9, 1))
    assert list(schedule.occurrences.order_by("due_at").values_list("outcome", flat=True)) == [
        OccurrenceOutcome.SKIPPED_BUDGET,
        OccurrenceOutcome.ENQUEUED,
    ]


# --- Failures --------------------------------------------------------------------------------


def test_a_request_that_cannot_run_is_recorded_as_failed_with_why(author, settings):
    settings.GENERATION_DEFAULT_AUTHOR = ""
    orphan = make_schedule("orphan", effective_from=utc(2026, 1, 1))
    big = make_schedule("big", count=5, author=author, effective_from=utc(2026, 1, 1))
    settings.GENERATION_MAX_BATCH = 3  # lowered after the schedule was saved

    scheduling.schedules_tick(now=utc(2026, 1, 1, 9, 1))
    failed = {o.schedule.name: o for o in ScheduleOccurrence.objects.select_related("schedule")}
    assert failed["orphan"].outcome == OccurrenceOutcome.FAILED
    assert failed["orphan"].message == (
        "Schedule 'orphan': no author: choose one, or set GENERATION_DEFAULT_AUTHOR."
    )
    assert failed["big"].outcome == OccurrenceOutcome.FAILED
    assert failed["big"].message == (
        "Schedule 'big': Count must be between 1 and 3 (GENERATION_MAX_BATCH), got 5."
    )
    assert not GenerationRun.objects.exists() and content_job_ids() == []
    assert orphan.occurrences.count() == big.occurrences.count() == 1


def test_unreachable_redis_writes_nothing_and_the_next_tick_tries_again(author, settings):
    schedule = make_schedule(author=author, effective_from=utc(2026, 1, 1))
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    live = settings.RQ_QUEUES
    settings.RQ_QUEUES = {name: {"URL": f"redis://127.0.0.1:{port}/0"} for name in live}
    # (the tick logs the one-line error and carries on with the other schedules)
    assert scheduling.schedules_tick(now=utc(2026, 1, 1, 9, 0, 10)) == []
    assert not schedule.occurrences.exists() and not GenerationRun.objects.exists()

    settings.RQ_QUEUES = live
    scheduling.schedules_tick(now=utc(2026, 1, 1, 9, 1, 10))
    occurrence = schedule.occurrences.get()
    assert occurrence.due_at == utc(2026, 1, 1, 9) and occurrence.outcome == "enqueued"
    assert len(content_job_ids()) == 1


# --- Exactly once -------------------------------------------------------------------------------


def test_an_occurrence_row_is_unique_per_schedule_and_due_time(author):
    schedule = make_schedule(author=author)
    fields = {"schedule": schedule, "due_at": utc(2026, 1, 1, 9), "recorded_at": utc(2026, 1, 1)}
    ScheduleOccurrence.objects.create(outcome="enqueued", **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        ScheduleOccurrence.objects.create(outcome="missed", **fields)


def test_concurrent_ticks_enqueue_each_occurrence_once(author, caplog):
    schedules = [
        make_schedule(author=author, count=2, effective_from=utc(2026, 1, 1)) for _ in range(3)
    ]
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def tick() -> None:
        try:
            start.wait()
            scheduling.schedules_tick(now=utc(2026, 1, 1, 9, 0, 30))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    with caplog.at_level(logging.ERROR):
        threads = [threading.Thread(target=tick) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors and not [r for r in caplog.records if r.levelno >= logging.ERROR]
    for schedule in schedules:
        occurrence = schedule.occurrences.get()
        assert occurrence.trigger == OccurrenceTrigger.SCHEDULER
        assert occurrence.runs.count() == 2
    jobs = content_job_ids()
    assert len(jobs) == len(set(jobs)) == GenerationRun.objects.count() == 6


# --- The clock the periodic job reads (SCHEDULE_CLOCK) -----------------------------------------


def jan_3_at_0920() -> datetime:
    return utc(2026, 1, 3, 9, 20)


def test_the_tick_reads_the_time_from_its_clock(author):
    schedule = make_schedule(author=author, effective_from=utc(2026, 1, 3))
    (occurrence,) = scheduling.schedules_tick(clock=jan_3_at_0920)
    assert occurrence.schedule == schedule
    assert (occurrence.due_at, occurrence.recorded_at) == (utc(2026, 1, 3, 9), jan_3_at_0920())


def test_the_periodic_job_reads_the_clock_named_by_schedule_clock(author, settings):
    settings.SCHEDULE_CLOCK = f"{__name__}.jan_3_at_0920"
    schedule = make_schedule(author=author, effective_from=utc(2026, 1, 3))
    assert periodic.schedules_tick() == 1
    assert schedule.occurrences.get().recorded_at == jan_3_at_0920()


def test_a_schedule_clock_that_cannot_be_imported_is_named(settings):
    settings.SCHEDULE_CLOCK = "generation.no_such_clock"
    with pytest.raises(ImproperlyConfigured, match="SCHEDULE_CLOCK is invalid"):
        scheduling.schedule_clock()
