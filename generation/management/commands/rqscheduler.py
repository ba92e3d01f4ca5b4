"""django-rq's rqscheduler, which registers the project's periodic jobs before it runs.

Registration is idempotent (stable job ids), so restarts and a second scheduler process
never duplicate a job. The polling interval defaults to 10 s instead of 60 s, so a job due
at 09:00:00 reaches its queue by 09:00:10. Its Redis connection waits out an outage or a
Sentinel failover (the workers' patient retry) instead of exiting. That retry must be set
on the scheduler's own connection, which django-rq's `handle` makes inside itself, so this
`handle` repeats its few lines (pid file, log level, scheduler) rather than calling it.
"""

from __future__ import annotations

import os
from typing import Any

import django_rq
from django.core.management.base import CommandError, CommandParser
from django_rq.management.commands.rqscheduler import Command as RQSchedulerCommand
from rq_scheduler.utils import setup_loghandlers

from generation.execution.worker import patient_retry
from generation.scheduling.periodic import periodic_register

DEFAULT_INTERVAL = 10


class Command(RQSchedulerCommand):
    help = (
        "Run rq-scheduler with the project's periodic jobs registered (generation schedules, "
        "health checks). Safe to run twice: each periodic job is registered once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(interval=DEFAULT_INTERVAL)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["interval"] < 1:
            raise CommandError("--interval must be at least 1 second.")
        if pid := options.get("pid"):
            with open(os.path.expanduser(pid), "w") as handle:
                handle.write(str(os.getpid()))
        verbosity = options["verbosity"]
        setup_loghandlers("DEBUG" if verbosity >= 2 else "WARNING" if verbosity == 0 else "INFO")
        scheduler = django_rq.get_scheduler(name=options["queue"], interval=options["interval"])
        # Like the workers: a Redis restart or a Sentinel failover is waited out, not fatal.
        scheduler.connection.set_retry(patient_retry())
        periodic_register(scheduler)
        scheduler.run()
