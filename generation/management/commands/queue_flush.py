"""Delete failed jobs from Redis (their runs stay failed in the database)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from generation import queues
from generation.execution import operator as operations
from generation.runs.refusals import command_error, refused


class Command(BaseCommand):
    help = "Delete failed jobs, optionally only those that failed more than e.g. 7d ago."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", default=None, help="Age like 30s, 15m, 12h, 7d.")
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")

    def handle(self, *args: Any, **options: Any) -> None:
        with refused(command_error):
            age = options["older_than"]
            older_than = operations.parse_age(age) if age is not None else None
            queues.ensure_reachable()
            count = operations.failed_flush(older_than)
        if options["json"]:
            self.stdout.write(json.dumps({"flushed": count}))
        else:
            self.stdout.write(f"{count} failed job(s) deleted; their runs stay failed.")
