"""Queue failed jobs again: `queue_retry 12` (run id), `queue_retry generation-run-12`, `all`.

A generation job's run resumes from its checkpoint with a fresh set of attempts.
`queue_retry orphaned` queues again the waiting runs whose job Redis lost.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from generation import queues
from generation.execution import operator as operations
from generation.execution import reaper
from generation.runs.refusals import command_error, refused


class Command(BaseCommand):
    help = (
        "Retry failed jobs by run id (12), job id (generation-run-12), or all; "
        "`orphaned` queues again waiting runs whose job Redis lost."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ids", nargs="+", metavar="ID|all|orphaned")
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")

    def handle(self, *args: Any, **options: Any) -> None:
        ids = options["ids"]
        if ids == ["orphaned"]:
            self._orphaned(as_json=options["json"])
            return
        job_ids = None if ids == ["all"] else [_job_id(ref) for ref in ids]
        with refused(command_error):
            queues.ensure_reachable()
            result = operations.failed_retry(job_ids)
        if result.missing:
            raise CommandError(
                f"No failed job {', '.join(result.missing)}; "
                f"{len(result.requeued)} other job(s) queued again."
            )
        if options["json"]:
            self.stdout.write(json.dumps({"retried": len(result.requeued), **vars(result)}))
        else:
            self.stdout.write(f"{len(result.requeued)} failed job(s) queued again.")

    def _orphaned(self, *, as_json: bool) -> None:
        with refused(command_error):
            queues.ensure_reachable()
            run_ids = reaper.reap_orphaned_runs()
        if as_json:
            self.stdout.write(json.dumps({"requeued_runs": run_ids}))
        else:
            self.stdout.write(f"{len(run_ids)} waiting run(s) without a job queued again.")


def _job_id(ref: str) -> str:
    """A run id (`12`) names its job (`generation-run-12`); anything else is a job id."""
    ref = ref.strip()
    return queues.job_id_for(int(ref)) if ref.isdigit() else ref
