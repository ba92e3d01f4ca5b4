"""Pause generation: every worker finishes its current job, then takes no new one."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from redis.exceptions import RedisError

from generation.operations import pause


class Command(BaseCommand):
    help = (
        "Pause the workers (RQ's suspend): each finishes its current job and takes no new "
        "one until `queue_resume`. Jobs keep queueing meanwhile."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reason", default="", help="Why: shown by the overview and queue_health."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            state = pause.generation_pause(reason=options["reason"], by="queue_pause")
        except (RedisError, OSError) as exc:
            raise CommandError(f"Redis is unreachable ({exc}); nothing paused.") from exc
        self.stdout.write(f"Paused: {state.summary()}.")
