"""Generate posts now, in this process, with a live progress display by stage."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from generation import service
from generation.exceptions import GenerationError
from generation.models import STAGE_ORDER, GenerationRun, RunStatus


def add_post_arguments(parser: CommandParser) -> None:
    """The options both generate commands share."""
    parser.add_argument("--count", type=int, default=1, help="How many posts (default 1).")
    parser.add_argument("--topic", default="", help="Subject; each post takes its own angle.")
    parser.add_argument("--publish", action="store_true", help="Publish instead of draft.")
    parser.add_argument("--author", default=None, help="User id or username of the author.")
    parser.add_argument("--no-tags", action="store_true", help="Do not tag the posts.")
    parser.add_argument("--category", default="", help="Category name (created if missing).")


class Command(BaseCommand):
    help = "Research and write posts synchronously (same pipeline as the background jobs)."

    def add_arguments(self, parser: CommandParser) -> None:
        add_post_arguments(parser)

    def handle(self, *args, **options) -> None:
        console = Console(file=self.stdout, highlight=False)
        with _StageProgress(console) as display:
            try:
                runs = service.generate_posts(
                    count=options["count"],
                    topic=options["topic"],
                    publish=options["publish"],
                    author=options["author"],
                    tags=not options["no_tags"],
                    category=options["category"],
                    progress=display.update,
                )
            except GenerationError as exc:
                raise CommandError(str(exc)) from exc
        for run in runs:
            console.print(_report(run))
        failed = [run for run in runs if run.status != RunStatus.SUCCEEDED]
        if failed:
            raise CommandError(f"{len(failed)} of {len(runs)} posts failed; see the errors above.")


class _StageProgress:
    """One progress bar per run, advancing through the pipeline's stages."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("run {task.fields[run]}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} {task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[int, int] = {}

    def __enter__(self) -> _StageProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def update(self, run_id: int, stage: str, message: str) -> None:
        if run_id not in self.tasks:
            self.tasks[run_id] = self.progress.add_task(stage, total=len(STAGE_ORDER), run=run_id)
        done = STAGE_ORDER.index(stage) + (1 if message.startswith("done") else 0)
        self.progress.update(self.tasks[run_id], completed=done, description=f"{stage}: {message}")


def _report(run: GenerationRun) -> Table:
    table = Table(title=f"Run {run.pk}: {run.status}", show_header=False, title_justify="left")
    if run.post_id:
        post = run.post
        table.add_row("post", f"#{post.pk} {post.title}")
        table.add_row("url", f"{settings.SITE_URL}{post.get_absolute_url()} ({post.status})")
        table.add_row(
            "sources", f"{post.sources.count()} cited of {run.checkpoints['research']['kept']} kept"
        )
    else:
        table.add_row("error", (run.errors[-1]["error"] if run.errors else "unknown")[:300])
    table.add_row(
        "citations",
        f"{run.citations_verified} verified of {run.citations_total}, "
        f"{run.citations_removed} removed",
    )
    table.add_row(
        "tokens",
        f"{run.prompt_tokens:,} in + {run.completion_tokens:,} out ({run.llm_calls} calls)",
    )
    table.add_row("cost", f"${run.cost_usd:.4f} (estimated)")
    table.add_row("time", ", ".join(f"{stage} {secs:.1f}s" for stage, secs in run.timings.items()))
    return table
