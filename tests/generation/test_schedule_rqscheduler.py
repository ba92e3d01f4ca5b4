"""rq-scheduler drives the schedules: periodic jobs registered once, and two real
`manage.py rqscheduler` processes (with real workers, real Redis and PostgreSQL) enqueue
each occurrence once."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import django_rq
import pytest
from django.core.management import CommandError, call_command
from rq.registry import FailedJobRegistry, StartedJobRegistry

from generation.execution.worker import patient_retry
from generation.models import GenerationRun, OccurrenceOutcome, ScheduleOccurrence
from generation.queues import job_id_for
from generation.scheduling.periodic import (
    PeriodicJob,
    ProjectScheduler,
    periodic_jobs,
    periodic_register,
)
from tests.clocks import fast_clock_env
from tests.factories import make_schedule
from tests.workers import ROOT, start_worker, stop, wait_for

TICK_ID = "periodic-schedules-tick"
HEALTH_ID = "periodic-health-check"
VERIFY_ID = "periodic-verify-posts"


def scheduled_ids(scheduler) -> list[str]:
    return [job.id for job in scheduler.get_jobs()]


@pytest.mark.django_db
def test_periodic_jobs_are_registered_once_and_stale_ones_dropped(settings):
    settings.SCHEDULE_TICK_SECONDS = 45
    scheduler = django_rq.get_scheduler("default")
    scheduler.schedule(datetime.now(UTC), "os.getpid", id="periodic-retired", interval=60)
    scheduler.schedule(datetime.now(UTC), "os.getpid", id="someone-elses-job", interval=60)

    periodic_register(scheduler)
    periodic_register(scheduler)  # a restart, or a second scheduler starting

    expected = [TICK_ID, HEALTH_ID, VERIFY_ID, "someone-elses-job"]
    assert sorted(scheduled_ids(scheduler)) == sorted(expected)
    tick = next(job for job in scheduler.get_jobs() if job.id == TICK_ID)
    assert tick.func_name == "generation.scheduling.periodic.schedules_tick"
    assert tick.origin == "default" and tick.meta["interval"] == 45
    assert [job.id for job in periodic_jobs()] == [TICK_ID, HEALTH_ID, VERIFY_ID]
    verify = next(job for job in scheduler.get_jobs() if job.id == VERIFY_ID)
    assert verify.func_name == "generation.scheduling.periodic.verify_posts_tick"


def test_a_periodic_job_id_must_carry_the_prefix():
    scheduler = django_rq.get_scheduler("default")
    job = PeriodicJob(id="tick", func="os.getpid", interval=60, description="no prefix")
    with pytest.raises(ValueError, match="must start with 'periodic-'"):
        periodic_register(scheduler, jobs=[job])


@contextlib.contextmanager
def processes(env: dict[str, str], *commands: list[str]) -> Iterator[list[subprocess.Popen]]:
    started = []
    try:
        for command in commands:
            started.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", *command],
                    cwd=ROOT,
                    env={**env, "LOG_FILE": "scheduler.log"},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        yield started
    finally:
        for process in started:
            stop(process)


def scheduled_runs():
    return GenerationRun.objects.filter(schedule_occurrence__isnull=False)


def content_jobs() -> list[str]:
    return django_rq.get_queue("content").job_ids


def quiet(connection) -> bool:
    queue = django_rq.get_queue("default")
    return queue.count == 0 and StartedJobRegistry("default", connection=connection).count == 0


def first_enqueued_due(schedule) -> datetime | None:
    first = schedule.occurrences.filter(outcome="enqueued").order_by("due_at").first()
    return first.due_at if first else None


@pytest.mark.workers
def test_two_rqschedulers_enqueue_each_occurrence_once(worker_env, author, redis_conn):
    # The ticks read a clock ten times faster than the wall clock (from now on): a due
    # minute every 6 s, a tick every 10 s of its time. The grace is wide enough that a tick
    # late on a loaded machine still runs its occurrence.
    env = {
        **worker_env,
        **fast_clock_env(rate=10),
        "SCHEDULE_TICK_SECONDS": "1",
        "SCHEDULE_GRACE_SECONDS": "3600",
    }
    started = datetime.now(UTC)
    # Every minute, owed since 150 s ago: on start, the latest due minute is caught up and
    # the one or two before it are missed.
    schedules = [
        make_schedule(cron="* * * * *", author=author, count=2, without_overlapping=False,
                      effective_from=started - timedelta(seconds=150))
        for _ in range(3)
    ]  # fmt: skip

    workers = [start_worker(env, queues=("default",)) for _ in range(2)]
    try:
        with processes(env, ["rqscheduler", "--interval", "1"], ["rqscheduler", "--interval", "1"]):
            wait_for(lambda: len(redis_conn.keys("rq:scheduler_instance:*")) == 2, timeout=60)
            # An editor adds a schedule while everything runs: no restart needed.
            late_comer = make_schedule(
                cron="* * * * *",
                author=author,
                without_overlapping=False,
                effective_from=datetime.now(UTC) - timedelta(seconds=70),
            )
            wait_for(lambda: late_comer.occurrences.filter(outcome="enqueued").exists(), timeout=60)
            # Each schedule's catch-up on start, then the minute after it, due while running.
            caught_up = [wait_for(lambda s=s: first_enqueued_due(s), timeout=60) for s in schedules]
            wait_for(
                lambda: all(
                    s.occurrences.filter(
                        due_at=due + timedelta(minutes=1), outcome="enqueued"
                    ).exists()
                    for s, due in zip(schedules, caught_up, strict=True)
                ),
                timeout=150,
            )
        # The schedulers are gone; let the workers finish the ticks already queued.
        wait_for(lambda: quiet(redis_conn), timeout=60)
    finally:
        for worker in workers:
            stop(worker)

    for schedule in [*schedules, late_comer]:
        occurrences = list(schedule.occurrences.order_by("due_at"))
        dues = [o.due_at for o in occurrences]
        # One row per due minute, none skipped, none twice.
        assert dues == [dues[0] + timedelta(minutes=i) for i in range(len(dues))]
        for occurrence in occurrences:
            expected = schedule.count if occurrence.outcome == OccurrenceOutcome.ENQUEUED else 0
            assert occurrence.runs.count() == expected, occurrence
        assert {o.outcome for o in occurrences} <= {"enqueued", "missed"}
    for schedule in schedules:  # on start: older due minutes missed, the latest caught up
        outcomes = list(schedule.occurrences.order_by("due_at").values_list("outcome", flat=True))
        first_run = outcomes.index("enqueued")
        assert first_run >= 1 and set(outcomes[:first_run]) == {"missed"}
        assert set(outcomes[first_run:]) == {"enqueued"} and len(outcomes[first_run:]) >= 2
    runs = scheduled_runs()
    assert runs.count() == sum(
        o.schedule.count for o in ScheduleOccurrence.objects.filter(outcome="enqueued")
    )
    jobs = content_jobs()
    jobless = [
        (r.pk, r.created_at, r.schedule_occurrence.due_at)
        for r in runs
        if job_id_for(r.pk) not in jobs
    ]
    assert len(jobs) == len(set(jobs)) == runs.count(), jobless
    assert set(jobs) == {job_id_for(run.pk) for run in runs}
    assert FailedJobRegistry("default", connection=redis_conn).count == 0


def test_rqscheduler_refuses_a_zero_interval():
    with pytest.raises(CommandError, match="--interval must be at least 1 second"):
        call_command("rqscheduler", interval=0)


@pytest.mark.django_db
def test_the_scheduler_django_rq_makes_registers_the_periodic_jobs_when_it_runs():
    """`manage.py rqscheduler` is django-rq's own `handle`; the scheduler it makes is
    ours (RQ["SCHEDULER_CLASS"]): running registers the periodic jobs and makes its Redis
    connection as patient as a worker's. Merely making one (any other process) does not."""
    scheduler = django_rq.get_scheduler("default", interval=1)
    assert isinstance(scheduler, ProjectScheduler)
    assert scheduled_ids(scheduler) == []
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        scheduler.run(burst=True)  # one pass, as rqscheduler's first
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert sorted(scheduled_ids(scheduler)) == sorted([TICK_ID, HEALTH_ID, VERIFY_ID])
    retry = scheduler.connection.get_retry()
    assert retry is not None and retry.get_retries() == patient_retry().get_retries()
    other = django_rq.get_scheduler("default").connection.get_retry()
    assert other is None or other.get_retries() < retry.get_retries()
