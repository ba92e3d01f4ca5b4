"""django-rq's rqscheduler, which registers the project's periodic jobs before it runs.

Registration is idempotent (stable job ids), so restarts and a second scheduler process
never duplicate a job. The polling interval defaults to 10 s instead of 60 s, so a job due
at 09:00:00 reaches its queue by 09:00:10. Everything else is django-rq's own `handle`.
"""

from __future__ import annotations

import django_rq
from django.core.management.base import CommandError, CommandParser
from django_rq.management.commands.rqscheduler import Command as RQSchedulerCommand

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

    def handle(self, *args, **options) -> None:
        if options["interval"] < 1:
            raise CommandError("--interval must be at least 1 second.")
        periodic_register(django_rq.get_scheduler(name=options["queue"]))
        super().handle(*args, **options)
