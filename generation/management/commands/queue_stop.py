"""Stop running generations: each run is canceled (checkpoints kept) and its horse killed."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from generation import queues
from generation.exceptions import GenerationError
from generation.execution import operator as operations


class Command(BaseCommand):
    help = (
        "Stop running runs (queue_stop 12 13): each is canceled with its checkpoints kept, "
        "its worker kills the work-horse; a retry resumes from the last finished stage."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("run_ids", nargs="+", type=int, metavar="RUN_ID")
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            queues.ensure_reachable()
            result = operations.runs_stop(options["run_ids"], by="queue_stop")
        except GenerationError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps({"stopped": result.stopped, "skipped": result.skipped}))
            return
        stopped = ", ".join(str(pk) for pk in result.stopped) or "none"
        self.stdout.write(f"Stopped run(s): {stopped}.")
        if result.skipped:
            self.stderr.write(f"{result.skipped} run(s) skipped: not running.")
