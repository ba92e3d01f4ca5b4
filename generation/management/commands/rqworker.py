"""django-rq's rqworker, plus --max-time (the Laravel guide's memory-control option)."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django_rq.management.commands.rqworker import Command as RQWorkerCommand

# With no queue names, a worker serves every queue, most important first: RQ takes the next
# job from the first queue that has one.
DEFAULT_QUEUES = ("content", "video", "default", "email")


class Command(RQWorkerCommand):
    help = (
        "Run an RQ worker (GenerationWorker: crash-safe, reaps dead workers' runs). With no "
        "queue names it serves content video default email, in that order. --max-jobs, "
        "--max-idle-time and --max-time stop it gracefully for supervisor to restart."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--max-time",
            type=float,
            default=None,
            help="Stop gracefully (after the current job) once this many seconds have passed.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        max_time = options.pop("max_time", None)
        if max_time is not None:
            if max_time <= 0:
                raise CommandError("--max-time must be more than 0 seconds.")
            # SIGINT is RQ's warm shutdown: an idle worker stops now, a busy one after its job.
            timer = threading.Timer(max_time, os.kill, (os.getpid(), signal.SIGINT))
            timer.daemon = True
            timer.start()
        super().handle(*(args or DEFAULT_QUEUES), **options)
