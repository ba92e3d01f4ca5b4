"""django-rq's rqscheduler, which also registers the project's periodic jobs at start."""

from __future__ import annotations

import os

from django_rq import get_scheduler
from django_rq.management.commands.rqscheduler import Command as RQSchedulerCommand
from rq_scheduler.utils import setup_loghandlers

from generation.periodic import register_periodic_jobs


class Command(RQSchedulerCommand):
    help = "Run rq-scheduler: recurring schedules and the periodic jobs (health checks)."

    def handle(self, *args, **options) -> None:
        if options.get("pid"):
            with open(os.path.expanduser(options["pid"]), "w") as pid_file:
                pid_file.write(str(os.getpid()))
        verbosity = options["verbosity"]
        setup_loghandlers("DEBUG" if verbosity >= 2 else "WARNING" if verbosity == 0 else "INFO")
        scheduler = get_scheduler(name=options["queue"], interval=options["interval"])
        ids = register_periodic_jobs(scheduler)
        self.stdout.write(f"Periodic jobs registered: {', '.join(ids)}")
        scheduler.run()
