"""Enable a generation schedule: its due times count from now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from generation.runs.refusals import command_error, refused
from generation.scheduling import selectors as schedule_selectors
from generation.scheduling import service as scheduling


class Command(BaseCommand):
    help = "Enable schedule NAME (checked first); due times count from now."
    enabled = True

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The schedule's name (see schedule_list).")

    def handle(self, *args: Any, **options: Any) -> None:
        with refused(command_error):
            schedule = schedule_selectors.schedule_by_name(options["name"])
            schedule, changed = scheduling.schedule_set_enabled(
                schedule_id=schedule.pk, enabled=self.enabled
            )
        state = "enabled" if schedule.enabled else "disabled"
        self.stdout.write(
            f"Schedule {schedule.name!r} {'is now' if changed else 'was already'} {state}."
        )
