"""List failed jobs, newest first: job id, run, topic, error, when it failed."""

from __future__ import annotations

import json
from typing import IO, Any, cast

from django.core.management.base import BaseCommand, CommandParser
from rich.console import Console
from rich.table import Table

from generation import queues
from generation.operations import monitoring
from generation.runs.refusals import command_error, refused


class Command(BaseCommand):
    help = "Failed jobs of every queue, newest first."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")

    def handle(self, *args: Any, **options: Any) -> None:
        with refused(command_error):
            queues.ensure_reachable()
            jobs = monitoring.failed_jobs()
        if options["json"]:
            self.stdout.write(json.dumps([job.as_dict() for job in jobs]))
            return
        if not jobs:
            self.stdout.write("No failed jobs.")
            return
        table = Table("Job", "Queue", "Run", "Topic", "Error", "Failed at")
        for job in jobs:
            failed_at = job.failed_at.strftime("%Y-%m-%d %H:%M:%S") if job.failed_at else "-"
            run = str(job.run_id or "-")
            table.add_row(job.job_id, job.queue, run, job.topic, job.error, failed_at)
        Console(file=cast(IO[str], self.stdout), width=160, highlight=False).print(table)
