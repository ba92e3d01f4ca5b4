"""List the generation schedules: expression, zone, next and last occurrence, enabled."""

from __future__ import annotations

import json
from datetime import datetime
from typing import IO, Any, cast

from django.core.management.base import BaseCommand, CommandParser
from rich.console import Console
from rich.table import Table

from generation.scheduling import selectors as schedule_selectors


class Command(BaseCommand):
    help = "Generation schedules: next run in their zone and UTC, last run and its outcome."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")

    def handle(self, *args: Any, **options: Any) -> None:
        rows = schedule_selectors.schedule_rows()
        if options["json"]:
            self.stdout.write(json.dumps(rows))
            return
        if not rows:
            self.stdout.write(
                "No schedules. Add one in the admin (Generation > Generation schedules)."
            )
            return
        table = Table(
            "Name",
            "Expression",
            "Zone",
            "Next (local)",
            "Next (UTC)",
            "Last run",
            "Outcome",
            "Enabled",
            title="Generation schedules",
        )
        for row in rows:
            table.add_row(
                row["name"],
                f"{row['cron']} ({row['description']})"
                if row["description"] != row["cron"]
                else row["cron"],
                row["timezone"],
                row["next_local"],
                _utc_label(row["next_utc"]),
                row["last_local"],
                row["problem"] or row["last_outcome"] or "—",
                "yes" if row["enabled"] else "no",
            )
        Console(file=cast(IO[str], self.stdout), width=200, highlight=False).print(table)


def _utc_label(iso: str | None) -> str:
    return schedule_selectors.time_utc(datetime.fromisoformat(iso) if iso else None)
