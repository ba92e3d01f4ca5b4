"""django-rq's rqscheduler, with the project's periodic jobs and a 10 s polling interval.

django-rq's own `handle` runs the scheduler; the scheduler it makes is ours
(`RQ["SCHEDULER_CLASS"]`, generation.scheduling.periodic.ProjectScheduler), which
registers the periodic jobs before its first poll and waits out a Redis restart or a
Sentinel failover (the workers' patient retry) instead of exiting. Registration is
idempotent (stable job ids), so restarts and a second scheduler process never duplicate a
job. The interval defaults to 10 s instead of 60 s, so a job due at 09:00:00 reaches its
queue by 09:00:10.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django_rq.management.commands.rqscheduler import Command as RQSchedulerCommand

DEFAULT_INTERVAL = 10


class Command(RQSchedulerCommand):
    help = (
        "Run rq-scheduler with the project's periodic jobs registered (generation schedules, "
        "health checks, re-verification). Safe to run twice: each periodic job is "
        "registered once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(interval=DEFAULT_INTERVAL)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["interval"] < 1:
            raise CommandError("--interval must be at least 1 second.")
        super().handle(*args, **options)
