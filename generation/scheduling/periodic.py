"""Periodic jobs: what `manage.py rqscheduler` (rq-scheduler) enqueues every N seconds.

`periodic_jobs()` is the list; `periodic_register(scheduler)` puts it into rq-scheduler,
and `ProjectScheduler` (django-rq's `RQ["SCHEDULER_CLASS"]`) does so whenever it runs.
Each job has a stable id, so registering again (every scheduler start, two schedulers at
once) replaces the entry instead of adding a second one, and a job dropped from the list
is cancelled at the next start. A periodic job is enqueued on a queue like any other and
executed by a worker; it must be cheap and safe to run twice at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django_rq.queues import DjangoScheduler
from rq.job import Job
from rq_scheduler import Scheduler

from generation.execution.worker import patient_retry
from generation.freshness import service as freshness
from generation.operations import alerts
from generation.scheduling import service as scheduling

logger = logging.getLogger(__name__)

ID_PREFIX = "periodic-"


@dataclass(frozen=True)
class PeriodicJob:
    id: str  # stable, starts with ID_PREFIX
    func: str  # dotted path of a function taking no arguments
    interval: int  # seconds between runs
    description: str
    queue: str = "default"
    timeout: int = 60  # seconds one run may take


def periodic_jobs() -> list[PeriodicJob]:
    """Every periodic job of the project (read at registration, so settings apply)."""
    return [
        PeriodicJob(
            id=f"{ID_PREFIX}schedules-tick",
            func="generation.scheduling.periodic.schedules_tick",
            interval=settings.SCHEDULE_TICK_SECONDS,
            description="Turn due occurrences of generation schedules into runs",
        ),
        PeriodicJob(
            id=f"{ID_PREFIX}health-check",
            func="generation.scheduling.periodic.health_check",
            interval=settings.HEALTH_CHECK_INTERVAL,
            description="Health checks; mail ADMINS when one changes state",
            timeout=120,
        ),
        PeriodicJob(
            id=f"{ID_PREFIX}verify-posts",
            func="generation.scheduling.periodic.verify_posts_tick",
            interval=settings.VERIFY_TICK_SECONDS,
            description="Queue published posts due for re-verification (living posts)",
        ),
    ]


class ProjectScheduler(DjangoScheduler):
    """django-rq's scheduler, as `RQ["SCHEDULER_CLASS"]` (a documented django-rq setting),
    so `manage.py rqscheduler` keeps django-rq's own `handle`. When it runs, and only then
    (get_scheduler() in any other process is left as it is): its connection waits out a
    Redis restart or a Sentinel failover as the workers' does, and the periodic jobs are
    registered before the first poll."""

    def run(self, burst: bool = False) -> None:
        self.connection.set_retry(patient_retry())
        periodic_register(self)
        super().run(burst=burst)


def periodic_register(
    scheduler: Scheduler, *, jobs: list[PeriodicJob] | None = None, now: datetime | None = None
) -> list[Job]:
    """Register `jobs` (default: all) with rq-scheduler, first run now; cancel stale ones."""
    jobs = periodic_jobs() if jobs is None else jobs
    wanted = {job.id for job in jobs}
    for stale in scheduler.get_jobs():
        if stale.id.startswith(ID_PREFIX) and stale.id not in wanted:
            scheduler.cancel(stale)
            stale.delete()
            logger.info("Periodic job %s is no longer in the list: cancelled", stale.id)
    registered = [_register(scheduler, job, now or timezone.now()) for job in jobs]
    logger.info("Registered %s periodic job(s): %s", len(jobs), ", ".join(sorted(wanted)))
    return registered


def _register(scheduler: Scheduler, job: PeriodicJob, now: datetime) -> Job:
    if not job.id.startswith(ID_PREFIX):
        raise ValueError(f"Periodic job id {job.id!r} must start with {ID_PREFIX!r}.")
    return scheduler.schedule(
        scheduled_time=now,
        func=job.func,
        interval=job.interval,
        id=job.id,
        queue_name=job.queue,
        timeout=job.timeout,
        # Never expire: a job hash that expired between two runs would make rq-scheduler
        # drop the entry for good (it cancels ids whose job is gone).
        result_ttl=-1,
        description=job.description,
    )


# The periodic jobs themselves (their dotted paths are in `periodic_jobs`).


def health_check() -> list[str]:
    """Periodic job (rq-scheduler): run the health checks and mail ADMINS on each change."""
    return [change.subject() for change in alerts.alerts_evaluate()]


def schedules_tick() -> int:
    """Periodic job (rq-scheduler): turn schedules' due occurrences into runs."""
    return len(scheduling.schedules_tick(clock=scheduling.schedule_clock()))


def verify_posts_tick() -> int:
    """Periodic job (rq-scheduler): queue the posts due for re-verification, one job each."""
    return len(freshness.verification_tick())
