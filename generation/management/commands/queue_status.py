"""Show each queue's waiting, running, scheduled and failed jobs, and the live workers.

`--watch [SECONDS]` refreshes every SECONDS (2 by default) until Ctrl-C: redrawn in place
in a terminal, a timestamped block per refresh otherwise.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import IO, Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from generation import queues
from generation.operations import monitoring
from generation.runs.refusals import command_error, refused


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CommandError(f"--watch takes a number of seconds, got {text!r}.") from None
    if value < 0.5:
        raise CommandError(f"--watch needs at least 0.5 seconds, got {text}.")
    return value


class Command(BaseCommand):
    help = "Jobs per queue (waiting, running, scheduled, failed) and the live workers."
    requires_system_checks: list = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")
        parser.add_argument(
            "--watch",
            nargs="?",
            const="2",
            default=None,
            metavar="SECONDS",
            help="Refresh every SECONDS (default 2) until Ctrl-C.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        every = _seconds(options["watch"]) if options["watch"] is not None else None
        try:
            with refused(command_error):
                queues.ensure_reachable()
                if every is None:
                    self._show(monitoring.queue_overview(), as_json=options["json"])
                else:
                    self._watch(every, as_json=options["json"])
        except KeyboardInterrupt:
            return

    def _show(self, overview: dict, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(overview))
            return
        console = Console(file=cast(IO[str], self.stdout), width=160, highlight=False)
        console.print(*_tables(overview))

    def _watch(self, every: float, *, as_json: bool) -> None:
        console = Console(file=cast(IO[str], self.stdout), width=160, highlight=False)
        if as_json or not console.is_terminal:
            while True:
                if not as_json:
                    self.stdout.write(f"--- {datetime.now():%Y-%m-%d %H:%M:%S}")
                self._show(monitoring.queue_overview(), as_json=as_json)
                self.stdout.flush()
                time.sleep(every)
        with Live(console=console, auto_refresh=False) as live:
            while True:
                stamp = f"{datetime.now():%H:%M:%S}, every {every:g}s (Ctrl-C to stop)"
                live.update(Group(*_tables(monitoring.queue_overview()), stamp), refresh=True)
                time.sleep(every)


def _tables(overview: dict) -> list:
    queue_table = Table("Queue", "Waiting", "Running", "Scheduled", "Failed", title="Queues")
    for row in overview["queues"]:
        counts = (row["waiting"], row["running"], row["scheduled"], row["failed"])
        queue_table.add_row(row["name"], *(str(count) for count in counts))
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
    return [queue_table, workers if overview["workers"] else "No workers alive."]
