"""Enable a generation schedule: its due times count from now."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from generation import schedule_selectors, scheduling
from generation.exceptions import GenerationError


class Command(BaseCommand):
    help = "Enable schedule NAME (checked first); due times count from now."
    enabled = True

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The schedule's name (see schedule_list).")

    def handle(self, *args, **options) -> None:
        try:
            schedule = schedule_selectors.schedule_by_name(options["name"])
            schedule, changed = scheduling.schedule_set_enabled(
                schedule_id=schedule.pk, enabled=self.enabled
            )
        except GenerationError as exc:
            raise CommandError(str(exc)) from exc
        state = "enabled" if schedule.enabled else "disabled"
        self.stdout.write(
            f"Schedule {schedule.name!r} {'is now' if changed else 'was already'} {state}."
        )
