"""List the jobs waiting in the queues; `--empty QUEUE` takes them off, canceling their runs."""

from __future__ import annotations

import json
import sys
from typing import IO, Any, cast

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.table import Table

from generation import queues
from generation.execution import operator as operations
from generation.operations import monitoring
from generation.runs.refusals import command_error, refused


class Command(BaseCommand):
    help = (
        "Jobs waiting in each queue (or one: queue_jobs content), oldest first. "
        "`queue_jobs --empty content --yes` empties that queue and cancels its runs "
        "(--with-delayed: its delayed and retrying jobs too)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("queue", nargs="?", help="Only this queue.")
        parser.add_argument("--empty", metavar="QUEUE", help="Empty this queue (cancels runs).")
        parser.add_argument(
            "--with-delayed",
            action="store_true",
            help="With --empty: also take off delayed and retrying jobs (canceling their runs).",
        )
        parser.add_argument("--yes", action="store_true", help="Do not ask before emptying.")
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")

    def handle(self, *args: Any, **options: Any) -> None:
        for name in filter(None, (options["queue"], options["empty"])):
            if name not in settings.RQ_QUEUE_NAMES:
                raise CommandError(
                    f"Unknown queue {name!r}: one of {', '.join(settings.RQ_QUEUE_NAMES)}."
                )
        with refused(command_error):
            queues.ensure_reachable()
            if options["empty"]:
                self._empty(
                    options["empty"],
                    yes=options["yes"],
                    with_delayed=options["with_delayed"],
                    as_json=options["json"],
                )
            else:
                self._list(options["queue"], as_json=options["json"])

    def _list(self, name: str | None, *, as_json: bool) -> None:
        jobs = monitoring.waiting_jobs([name] if name else None)
        if as_json:
            self.stdout.write(json.dumps([job.as_dict() for job in jobs]))
            return
        if not jobs:
            self.stdout.write("No jobs waiting.")
            return
        table = Table("Queue", "Job", "Run", "Topic", "Waiting")
        for job in jobs:
            waited = f"{job.waited_seconds:.0f}s" if job.waited_seconds is not None else "-"
            topic = job.topic or ("" if job.run_id else job.description)
            table.add_row(job.queue, job.job_id, str(job.run_id or "-"), topic, waited)
        Console(file=cast(IO[str], self.stdout), width=160, highlight=False).print(table)

    def _empty(self, name: str, *, yes: bool, with_delayed: bool, as_json: bool) -> None:
        queue = queues.get_queue(name)
        waiting, delayed = queue.count, queue.scheduled_job_registry.count
        what = f"{waiting} waiting job(s)"
        if with_delayed:
            what += f" and {delayed} delayed/retrying job(s)"
        if not yes and not self._confirm(f"Empty {name} ({what}), canceling their runs? [y/N] "):
            raise CommandError("Nothing emptied.")
        result = operations.queue_empty(name, with_delayed=with_delayed)
        if as_json:
            self.stdout.write(json.dumps(vars(result)))
            return
        line = (
            f"Emptied {name}: {result.runs_canceled} run(s) canceled, "
            f"{result.jobs_deleted} other job(s) deleted."
        )
        if result.delayed_removed:
            line += f" {result.delayed_removed} delayed/retrying job(s) taken off."
        if result.delayed_left:
            line += (
                f" Left {result.delayed_left} delayed/retrying job(s), which run when due; "
                "--with-delayed takes them off too."
            )
        self.stdout.write(line)

    def _confirm(self, question: str) -> bool:
        if not sys.stdin.isatty():
            raise CommandError("Emptying a queue needs --yes when not asked at a terminal.")
        return input(question).strip().lower() in ("y", "yes")
