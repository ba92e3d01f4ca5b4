"""Queue posts for background generation; returns at once (or follows them with --follow)."""

from __future__ import annotations

import json
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from generation import service
from generation.exceptions import GenerationError
from generation.management.commands.generate_deep_research import add_post_arguments, post_options
from generation.models import STAGE_ORDER, GenerationRun, Origin, RunStatus

FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED)
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
            payload |= {"queue": options["queue"], "delay": options["delay"]}
            self.stdout.write(json.dumps(payload))
        else:
            self.stdout.write("Queued successfully!")
            self.stdout.write("Run ids: " + " ".join(str(run_id) for run_id in run_ids))
        if options["follow"]:
            self._follow(run_ids, quiet=options["json"])

    def _follow(self, run_ids: list[int], *, quiet: bool) -> None:
        """Poll the runs until all finish; Ctrl-C stops watching (the runs go on)."""
        console = Console(file=self.stderr if quiet else self.stdout, highlight=False)
        try:
            with _RunProgress(console, run_ids) as display:
                while not display.refresh():
                    time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            console.print("Stopped following; the runs keep going in the workers.")
            return
        for run in GenerationRun.objects.filter(pk__in=run_ids).select_related("post"):
            console.print(_summary(run), soft_wrap=True)


class _RunProgress:
    """One bar per run: its status and stage (of the pipeline's stages), and elapsed time."""

    def __init__(self, console: Console, run_ids: list[int]) -> None:
        self.progress = Progress(
            TextColumn("run {task.fields[run]}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} {task.description}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.tasks = {
            run_id: self.progress.add_task("queued", total=len(STAGE_ORDER), run=run_id)
            for run_id in run_ids
        }

    def __enter__(self) -> _RunProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def refresh(self) -> bool:
        """Update every bar from the database; True once every run has finished."""
        rows = GenerationRun.objects.filter(pk__in=list(self.tasks)).values_list(
            "pk", "status", "stage"
        )
        done = True
        for run_id, status, stage in rows:
            index = STAGE_ORDER.index(stage) if stage in STAGE_ORDER else 0
            finished = status in FINISHED
            completed = len(STAGE_ORDER) if status == RunStatus.SUCCEEDED else index
            label = f"{status} {stage}".strip()
            self.progress.update(self.tasks[run_id], completed=completed, description=label)
            if finished:
                self.progress.stop_task(self.tasks[run_id])
            done = done and finished
        return done


def _summary(run: GenerationRun) -> str:
    if run.post_id:
        detail = f"{settings.SITE_URL}{run.post.get_absolute_url()}"
    else:
        detail = (run.errors[-1].get("error", "") if run.errors else "")[:300]
    return f"Run {run.pk}: {run.status}  {detail}".rstrip()
