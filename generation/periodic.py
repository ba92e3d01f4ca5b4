"""Jobs that run on a fixed period, registered with rq-scheduler by `manage.py rqscheduler`.

Each has a stable id, so registering again (every start of the scheduler, however many
there are) replaces the job instead of adding a second one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings


@dataclass(frozen=True)
class PeriodicJob:
    id: str
    func: str
    interval: Callable[[], int]  # seconds, read when registering (settings may change)
    queue: str = "default"
    timeout: int = 300
    description: str = ""


PERIODIC_JOBS: list[PeriodicJob] = [
    PeriodicJob(
        id="periodic-health-check",
        func="generation.jobs.health_check",
        interval=lambda: settings.HEALTH_CHECK_INTERVAL,
        # `default` is served by the email/ops worker too, so a long content backlog
        # never delays the checks that would report it.
        queue="default",
        timeout=120,
        description="Health checks; mail ADMINS when one changes state",
    ),
]


def register_periodic_jobs(scheduler, jobs: list[PeriodicJob] | None = None) -> list[str]:
    """(Re)register each periodic job with the rq-scheduler `scheduler`; returns their ids."""
    registered = []
    for job in PERIODIC_JOBS if jobs is None else jobs:
        if job.id in scheduler:
            scheduler.cancel(job.id)
        scheduler.schedule(
            scheduled_time=datetime.now(UTC).replace(tzinfo=None),  # rq-scheduler wants naive UTC
            func=job.func,
            interval=job.interval(),
            repeat=None,
            id=job.id,
            queue_name=job.queue,
            timeout=job.timeout,
            result_ttl=job.interval() * 2,
            description=job.description or job.id,
        )
        registered.append(job.id)
    return registered
