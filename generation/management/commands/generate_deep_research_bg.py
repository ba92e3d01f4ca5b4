"""Queue posts for background generation; returns at once (or follows them with --follow)."""

from __future__ import annotations

import json
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from generation import estimates, selectors, service
from generation.exceptions import GenerationError
from generation.management.commands.generate_deep_research import add_post_arguments, post_options
from generation.management.display import RunProgressDisplay, post_location
from generation.models import GenerationRun, Origin
from generation.progress import FINISHED_STATUSES, RunRow, events_between

POLL_SECONDS = 0.5


class Command(BaseCommand):
    help = "Queue posts for generation by the RQ workers and return at once."
    # It must return at once: the system checks (over a second here) guard servers, not this.
    requires_system_checks: list = []

    def add_arguments(self, parser: CommandParser) -> None:
        add_post_arguments(parser)
        parser.add_argument("--delay", type=float, default=0, help="Start after N seconds.")
        parser.add_argument("--queue", default="content", help="RQ queue (default content).")
        parser.add_argument("--follow", action="store_true", help="Show progress until done.")
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")

    def handle(self, *args, **options) -> None:
        if not options["json"]:  # before queueing: what the request is expected to cost
            estimate = estimates.post_estimate().describe(options["count"])
            self.stdout.write(f"Estimated cost: {estimate}")
        try:
            runs = service.enqueue_posts(
                **post_options(options),
                delay=options["delay"],
                queue=options["queue"],
                origin=Origin.COMMAND,
            )
        except GenerationError as exc:
            raise CommandError(str(exc)) from exc
        run_ids = [run.pk for run in runs]
        if options["json"]:
            payload = {"queued": len(run_ids), "run_ids": run_ids}
            payload["estimate_usd"] = str(runs[0].estimate_usd)
            payload |= {"queue": options["queue"], "delay": options["delay"]}
            self.stdout.write(json.dumps(payload))
        else:
            self.stdout.write("Queued successfully!")
            self.stdout.write("Run ids: " + " ".join(str(run_id) for run_id in run_ids))
        if options["follow"]:
            self._follow(run_ids, quiet=options["json"])

    def _follow(self, run_ids: list[int], *, quiet: bool) -> None:
        """Show the runs' progress until all finish; Ctrl-C stops watching (they go on)."""
        stream = self.stderr if quiet else self.stdout
        try:
            with RunProgressDisplay(stream) as display:
                _watch(run_ids, display)
        except KeyboardInterrupt:
            stream.write("Stopped following; the runs keep going in the workers.")
            return
        runs = GenerationRun.objects.filter(pk__in=run_ids).select_related("post")
        for run in runs.order_by("pk"):
            stream.write(_summary(run))


def _watch(run_ids: list[int], display: RunProgressDisplay) -> None:
    """Poll the runs and show what changed, until every one has finished."""
    seen: dict[int, RunRow] = {}
    while True:
        for row in selectors.runs_progress_rows(run_ids):
            for event in events_between(seen.get(row.run_id), row):
                display(event)
            seen[row.run_id] = row
        if len(seen) == len(run_ids) and all(r.status in FINISHED_STATUSES for r in seen.values()):
            return
        time.sleep(POLL_SECONDS)


def _summary(run: GenerationRun) -> str:
    if run.post_id:
        detail = post_location(run)
    else:
        detail = (run.errors[-1].get("error", "") if run.errors else "")[:300]
    return f"Run {run.pk}: {run.status}  {detail}".rstrip()
