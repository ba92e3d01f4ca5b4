"""Show each queue's waiting, running, scheduled and failed jobs, and the live workers."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.table import Table

from generation import monitoring, queues
from generation.exceptions import GenerationError


class Command(BaseCommand):
    help = "Jobs per queue (waiting, running, scheduled, failed) and the live workers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")

    def handle(self, *args, **options) -> None:
        try:
            queues.ensure_reachable()
            overview = monitoring.queue_overview()
        except GenerationError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(overview))
            return
        console = Console(file=self.stdout, width=160, highlight=False)
        queue_table = Table("Queue", "Waiting", "Running", "Scheduled", "Failed", title="Queues")
        for row in overview["queues"]:
            counts = (row["waiting"], row["running"], row["scheduled"], row["failed"])
            queue_table.add_row(row["name"], *(str(count) for count in counts))
        console.print(queue_table)
        workers = Table("Worker", "Queues", "State", "Job", "Run", "PID", "Alive", title="Workers")
        for row in overview["workers"]:
            workers.add_row(
                row["name"],
                ",".join(row["queues"]),
                row["state"],
                row["job_id"] or "-",
                str(row["run_id"] or "-"),
                str(row["pid"] or "-"),
                "yes" if row["alive"] else f"silent {row['last_seen_seconds']}s",
            )
        console.print(workers if overview["workers"] else "No workers alive.")
