"""Queue posts for background generation; returns at once (or follows them with --follow)."""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from generation.management.commands.generate_deep_research import add_post_arguments, post_options
from generation.management.display import RunProgressDisplay, console_logs_hidden, post_location
from generation.models import GenerationRun, Origin, RunStatus
from generation.operations import estimates, monitoring
from generation.runs import selectors, service
from generation.runs.progress import FINISHED_STATUSES, RunRow, events_between
from generation.runs.refusals import command_error, refused

POLL_SECONDS = 0.5
WORKER_CHECK_SECONDS = 2.0


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

    def handle(self, *args: Any, **options: Any) -> None:
        with console_logs_hidden(hidden=options["verbosity"] < 2):
            self._queue(options)

    def _queue(self, options: dict[str, Any]) -> None:
        if not options["json"]:  # before queueing: what the request is expected to cost
            estimate = estimates.post_estimate().describe(options["count"])
            self.stdout.write(f"Estimated cost: {estimate}")
        with refused(command_error):
            runs = service.enqueue_posts(
                **post_options(options),
                delay=options["delay"],
                queue=options["queue"],
                origin=Origin.COMMAND,
            )
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
            self._follow(run_ids, queue=options["queue"], quiet=options["json"])

    def _follow(self, run_ids: list[int], *, queue: str, quiet: bool) -> None:
        """Show the runs' progress until all finish; Ctrl-C stops watching (they go on).
        Any run that did not succeed makes the command fail, saying how many."""
        stream = self.stderr if quiet else self.stdout
        try:
            with RunProgressDisplay(stream) as display:
                _watch(run_ids, display, WorkerWatch(queue, self.stderr))
        except KeyboardInterrupt:
            stream.write("Stopped following; the runs keep going in the workers.")
            return
        runs = list(GenerationRun.objects.filter(pk__in=run_ids).select_related("post"))
        for run in sorted(runs, key=lambda run: run.pk):
            stream.write(_summary(run))
        if failed := unsuccessful_label(runs):
            raise CommandError(failed)


def unsuccessful_label(runs: list[GenerationRun]) -> str:
    """`"2 of 3 runs failed."`, naming cancellations apart; "" when every run succeeded."""
    failed = sum(run.status == RunStatus.FAILED for run in runs)
    canceled = sum(run.status == RunStatus.CANCELED for run in runs)
    if not failed and not canceled:
        return ""
    parts = [f"{failed} of {len(runs)} runs failed"] if failed else []
    parts += [f"{canceled} of {len(runs)} canceled"] if canceled else []
    return "; ".join(parts) + " (errors above; `manage.py queue_failed` lists them)."


class WorkerWatch:
    """Warns, once per absence, when no live worker serves the watched queue: a run
    would otherwise sit at "queued" with nothing to say why."""

    def __init__(self, queue: str, stream: OutputWrapper) -> None:
        self.queue, self.stream = queue, stream
        self.checked_at = float("-inf")
        self.warned = False

    def __call__(self) -> None:
        if time.monotonic() - self.checked_at < WORKER_CHECK_SECONDS:
            return
        self.checked_at = time.monotonic()
        live = [w for w in monitoring.workers_list() if w.alive and self.queue in w.queues]
        if not live and not self.warned:
            self.stream.write(
                f"No live worker serves the {self.queue!r} queue, so nothing will pick these "
                f"runs up: start one with `python manage.py rqworker {self.queue} "
                "--with-scheduler` (or `make run`)."
            )
        self.warned = not live


def _watch(run_ids: list[int], display: RunProgressDisplay, workers: WorkerWatch) -> None:
    """Poll the runs and show what changed, until every one has finished."""
    seen: dict[int, RunRow] = {}
    while True:
        workers()
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
