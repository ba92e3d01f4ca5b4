"""Check that generation is healthy: one line per check; exit 0 OK, 1 warning, 2 critical."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from generation.operations import alerts, health


class Command(BaseCommand):
    help = (
        "Health checks (Redis, queue depth, failures, workers, scheduler, stuck runs, queue "
        "wait, paused, overdue delayed jobs, worker churn, living posts' verification lag): one "
        "line each; exit status 0 OK, "
        "1 warning, 2 critical."
    )
    requires_system_checks: list = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")
        parser.add_argument(
            "--only",
            default="",
            metavar="CHECK[,CHECK]",
            help=f"Run only these checks ({', '.join(health.CHOICES)}); e.g. a container's "
            "probe: --only local_worker.",
        )
        parser.add_argument(
            "--alert",
            action="store_true",
            help="Also mail ADMINS about each check that changed state (as the periodic job does).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        only = [name.strip() for name in options["only"].split(",") if name.strip()]
        try:
            results = health.run_checks(only or None)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        level = health.overall(results)
        if options["alert"]:
            alerts.alerts_evaluate(results)
        if options["json"]:
            payload = {"status": level.label, "checks": [r.as_dict() for r in results]}
            self.stdout.write(json.dumps(payload))
        else:
            for result in results:
                self.stdout.write(f"{result.level.name:<8} {result.name:<12} {result.summary}")
        sys.exit(int(level))
