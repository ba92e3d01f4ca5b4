"""Resume generation after `queue_pause`: the workers take jobs again."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from redis.exceptions import RedisError

from generation.operations import pause


class Command(BaseCommand):
    help = "Resume the workers after queue_pause (RQ's resume): they take jobs again."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            was_paused = pause.generation_resume()
        except (RedisError, OSError) as exc:
            raise CommandError(f"Redis is unreachable ({exc}); nothing resumed.") from exc
        self.stdout.write("Resumed: workers take jobs again." if was_paused else "Not paused.")
