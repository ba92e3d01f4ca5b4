"""Generate posts now, in this process, with a live progress display by stage."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from generation.execution import service
from generation.management.display import RunProgressDisplay, console_logs_hidden, post_location
from generation.models import STAGE_ORDER, GenerationRun, RunStatus
from generation.pipeline import checkpoints
from generation.pipeline.types import CitationReport
from generation.runs.progress import counted
from generation.runs.refusals import command_error, refused


def add_post_arguments(parser: CommandParser) -> None:
    """The options both generate commands share."""
    parser.add_argument("--count", type=int, default=1, help="How many posts (default 1).")
    parser.add_argument("--topic", default="", help="Subject; each post takes its own angle.")
    parser.add_argument(
        "--publish",
        action="store_true",
        help="Publish when every check passes (else the post waits in review).",
    )
    parser.add_argument("--author", default=None, help="User id or username of the author.")
    parser.add_argument("--no-tags", action="store_true", help="Do not tag the posts.")
    parser.add_argument("--category", default="", help="Category name (created if missing).")


def post_options(options: dict) -> dict:
    """The service keyword arguments those shared options stand for."""
    return {
        "count": options["count"],
        "topic": options["topic"],
        "publish": options["publish"],
        "author": options["author"],
        "tags": not options["no_tags"],
        "category": options["category"],
    }


class Command(BaseCommand):
    help = "Research and write posts synchronously (same pipeline as the background jobs)."

    def add_arguments(self, parser: CommandParser) -> None:
        add_post_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        with console_logs_hidden(hidden=options["verbosity"] < 2):
            self._generate(options)

    def _generate(self, options: dict[str, Any]) -> None:
        with RunProgressDisplay(self.stdout) as display, refused(command_error):
            runs = service.generate_posts(**post_options(options), progress=display)
        for run in runs:
            self.stdout.write(_report(run))
        failed = [run for run in runs if run.status != RunStatus.SUCCEEDED]
        if failed:
            raise CommandError(f"{len(failed)} of {len(runs)} posts failed; see the errors above.")


def _report(run: GenerationRun) -> str:
    """Plain lines (not a table) so narrow terminals and log files keep every value."""
    rows = [f"Run {run.pk}: {run.status}"]
    if run.post_id:
        post, kept = run.post, checkpoints.sources_kept(run.checkpoints)
        assert post is not None  # post_id is set
        rows += [
            f"  post       #{post.pk} {post.title}",
            f"  url        {post_location(run)}",
            f"  sources    {post.sources.count()} cited of {kept} kept",
        ]
    else:
        rows.append(f"  error      {(run.errors[-1]['error'] if run.errors else 'unknown')[:300]}")
    rows += _citation_rows(checkpoints.citation_report(run.checkpoints))
    rows += [
        f"  tokens     {run.prompt_tokens:,} in + {run.completion_tokens:,} out "
        f"({run.llm_calls} calls)",
        f"  cost       ${run.cost_usd:.4f} (estimated)",
        "  time       " + ", ".join(_stage_time(run, stage) for stage in _ordered(run.timings)),
    ]
    return "\n".join(rows)


def _citation_rows(report: CitationReport | None, shown: int = 5) -> list[str]:
    """The citation report: counts, the judge's verdicts, removed sentences, a hold."""
    if report is None:
        return []
    rows = [
        f"  citations  {counted(report.claims, 'claim')} checked, {report.verified} verified, "
        f"{len(report.revised)} revised, {len(report.removed)} removed; "
        f"{counted(report.figures, 'figure')} checked"
    ]
    if judge := report.judge:
        rows.append(f"  judge      {judge['supported']} of {judge['checked']} supported")
    for removed in report.removed[:shown]:
        rows.append(f"  removed    {removed['sentence'][:160]!r}: {removed['reason']}")
    if len(report.removed) > shown:
        rows.append(f"             … and {len(report.removed) - shown} more (see the run admin)")
    if report.held:
        rows.append(f"  held       for review: {report.held}")
    return rows


def _ordered(timings: dict) -> list[str]:
    return [stage for stage in STAGE_ORDER if stage in timings]


def _stage_time(run: GenerationRun, stage: str) -> str:
    """`outline 2.3s ($0.0012)`: a stage's seconds, and its LLM cost when it made calls."""
    spent = (run.usage_by_stage or {}).get(stage)
    cost = f" (${float(spent['cost_usd']):.4f})" if spent else ""
    return f"{stage} {run.timings[stage]:.1f}s{cost}"
