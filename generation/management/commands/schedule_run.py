"""Run one occurrence of a schedule now, through the scheduler's own path."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from generation.models import OccurrenceOutcome
from generation.runs.refusals import command_error, refused
from generation.scheduling import selectors as schedule_selectors
from generation.scheduling import service as scheduling


class Command(BaseCommand):
    help = (
        "Run one occurrence of schedule NAME now (enabled or not), like the scheduler would: "
        "its runs are queued through the service, and the overlap rule applies."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The schedule's name (see schedule_list).")

    def handle(self, *args: Any, **options: Any) -> None:
        with refused(command_error):
            schedule = schedule_selectors.schedule_by_name(options["name"])
            occurrence = scheduling.schedule_run_now(schedule_id=schedule.pk)
        if occurrence.outcome != OccurrenceOutcome.ENQUEUED:
            raise CommandError(f"Schedule {schedule.name!r}: {occurrence.message}")
        self.stdout.write(f"Schedule {schedule.name!r}: {occurrence.message}")
