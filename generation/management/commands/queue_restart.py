"""Ask every worker to stop after its current job (supervisor starts fresh ones)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from generation import queues
from generation.execution import operator as operations
from generation.runs.refusals import command_error, refused


class Command(BaseCommand):
    help = "Warm-restart the workers: each stops after its current job."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")

    def handle(self, *args: Any, **options: Any) -> None:
        with refused(command_error):
            queues.ensure_reachable()
            names = operations.workers_restart()
        if options["json"]:
            self.stdout.write(json.dumps({"asked": len(names), "workers": names}))
        else:
            self.stdout.write(f"{len(names)} worker(s) asked to stop after their current job.")
