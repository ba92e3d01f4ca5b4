"""The one progress display of the generate commands, fed by `RunEvent`s.

In a terminal: one live bar per run (rich), redrawn in place. Log lines that the console
handler would write meanwhile are held back from the screen (they still reach the log
file) so nothing breaks the bars into stale copies. Not a terminal (a pipe, a log file,
CI): one plain line per event, as it happens, so `--follow | tee` shows progress at once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import IO, Any, cast

from django.conf import settings
from django.core.management.base import OutputWrapper
from django.urls import reverse
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from generation.models import STAGE_ORDER, GenerationRun
from generation.runs.progress import EventKind, RunEvent


class _Verbatim:
    """A command's stdout that writes exactly what it is given.

    Django's OutputWrapper ends every write with a newline; rich redraws its bars with
    cursor moves and partial lines, and each added newline left one stale copy behind."""

    def __init__(self, stream: IO[str] | OutputWrapper) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        if isinstance(self._stream, OutputWrapper):
            self._stream.write(text, ending="")
        else:
            self._stream.write(text)
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)  # flush, isatty, fileno: the real stream's


class RunProgressDisplay:
    """An EventSink: `display(event)` shows it; use as a context manager."""

    def __init__(self, stream: IO[str] | OutputWrapper, *, plain: bool | None = None) -> None:
        self.stream = stream
        self.plain = not _is_terminal(stream) if plain is None else plain
        self.console = Console(file=cast(IO[str], _Verbatim(stream)), highlight=False)
        self.progress: Progress | None = None
        self.tasks: dict[int, TaskID] = {}
        self._muted: list[tuple[logging.Handler, int]] = []

    def __enter__(self) -> RunProgressDisplay:
        if not self.plain:
            self.progress = Progress(
                TextColumn("run {task.fields[run]}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} {task.description}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=False,
            )
            self._mute_console_logging()
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()
            self._restore_console_logging()

    def __call__(self, event: RunEvent) -> None:
        if self.plain:
            self.stream.write(plain_line(event) + "\n")
            self.stream.flush()
        else:
            self._update_bar(event)

    def _update_bar(self, event: RunEvent) -> None:
        assert self.progress is not None  # started by __enter__ unless plain
        if event.run_id not in self.tasks:
            self.tasks[event.run_id] = self.progress.add_task(
                "queued", total=len(STAGE_ORDER), run=event.run_id
            )
        task = self.tasks[event.run_id]
        fields: dict[str, Any] = {"description": describe(event)}
        if event.stage in STAGE_ORDER:
            done = STAGE_ORDER.index(event.stage) + (event.kind == EventKind.FINISHED)
            fields["completed"] = done
        if event.kind == EventKind.DONE and event.status == "succeeded":
            fields["completed"] = len(STAGE_ORDER)
        self.progress.update(task, **fields)
        if event.kind == EventKind.DONE:
            self.progress.stop_task(task)

    def _mute_console_logging(self) -> None:
        """Console log handlers write past rich's back and leave stale bar lines."""
        for handler in logging.getLogger().handlers:
            if type(handler) is logging.StreamHandler:
                self._muted.append((handler, handler.level))
                handler.setLevel(logging.CRITICAL + 1)

    def _restore_console_logging(self) -> None:
        for handler, level in self._muted:
            handler.setLevel(level)
        self._muted.clear()


@contextlib.contextmanager
def console_logs_hidden(*, hidden: bool = True) -> Iterator[None]:
    """Log lines go to the log file only while a command shows its own progress, so each
    event is on screen once; `-v 2` (`hidden=False`) shows them as well."""
    muted = []
    for handler in logging.getLogger().handlers if hidden else []:
        if type(handler) is logging.StreamHandler:
            muted.append((handler, handler.level))
            handler.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for handler, level in muted:
            handler.setLevel(level)


def _is_terminal(stream: IO[str] | OutputWrapper) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def describe(event: RunEvent) -> str:
    """What a run is doing, in a few words."""
    if event.kind == EventKind.WAITING:
        return event.status or "queued"
    if event.kind == EventKind.ATTEMPT:
        return f"{event.message} started"
    if event.kind == EventKind.STARTED:
        return f"{event.stage} started"
    if event.kind == EventKind.FINISHED:
        return f"{event.stage} done in {event.seconds:.1f}s"
    if event.kind == EventKind.DONE:
        return event.status
    return f"{event.stage}: {event.message}"


def plain_line(event: RunEvent) -> str:
    return f"run {event.run_id}: {describe(event)}"


def post_location(run: GenerationRun) -> str:
    """Where the run's post went: its public URL once published; otherwise its review
    screen, and why it waits there ("in review: 2 of 12 claims removed")."""
    post = run.post
    assert post is not None  # asked only of a run that made a post
    if post.is_published:
        return f"{settings.SITE_URL}{post.get_absolute_url()} (published)"
    review_url = settings.SITE_URL + reverse("admin:blog_post_review", args=[post.pk])
    report = run.checkpoints.get("citations") or {}
    removed = f"{len(report.get('removed', []))} of {report.get('claims', 0)} claims removed"
    return f"{review_url} ({post.get_status_display().lower()}: {removed})"
