"""Ask every worker to stop after its current job (supervisor starts fresh ones)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from generation import operations, queues
from generation.exceptions import GenerationError


class Command(BaseCommand):
    help = "Warm-restart the workers: each stops after its current job."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")

    def handle(self, *args, **options) -> None:
        try:
            queues.ensure_reachable()
            names = operations.workers_restart()
        except GenerationError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps({"asked": len(names), "workers": names}))
        else:
            self.stdout.write(f"{len(names)} worker(s) asked to stop after their current job.")
