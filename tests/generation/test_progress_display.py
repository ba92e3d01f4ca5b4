"""The progress display of the generate commands: plain lines off a terminal, bars that
redraw in place in one."""

from __future__ import annotations

import io

from django.core.management.base import OutputWrapper

from generation.management.display import RunProgressDisplay
from generation.runs.progress import EventKind, RunEvent, RunRow, events_between


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bars_reach_the_terminal_verbatim_through_a_commands_stdout():
    """Django's OutputWrapper ends each write with a newline; the bars' cursor moves must
    not get one, or every redraw leaves a stale copy of the lines above."""
    terminal = FakeTerminal()
    display = RunProgressDisplay(OutputWrapper(terminal))
    assert not display.plain
    with display:
        display(RunEvent(1, EventKind.WAITING, status="queued"))
        display.progress.refresh()
        display(RunEvent(1, EventKind.STARTED, stage="topic"))
        display.progress.refresh()
    written = terminal.getvalue()
    assert "\x1b[2K" in written  # rich erased and redrew the line in place
    assert "\x1b[?25l\n" not in written and "\x1b[2K\n" not in written


def test_off_a_terminal_each_event_is_one_plain_line():
    out = io.StringIO()
    with RunProgressDisplay(OutputWrapper(out)) as display:
        display(RunEvent(3, EventKind.STARTED, stage="research"))
        display(RunEvent(3, EventKind.FINISHED, stage="research", seconds=2.25))
        display(RunEvent(3, EventKind.DONE, status="succeeded"))
    assert out.getvalue().splitlines() == [
        "run 3: research started",
        "run 3: research done in 2.2s",
        "run 3: succeeded",
    ]


def _row(status: str, stage: str = "", attempts: int = 0, timings: dict | None = None) -> RunRow:
    return RunRow(7, status, stage, attempts, 4, timings or {})


def test_a_watcher_turns_database_rows_into_each_event_once():
    steps = [
        _row("queued"),
        _row("running", "topic", 1),
        _row("running", "research", 1, {"topic": 1.5}),
        _row("running", "research", 1, {"topic": 1.5}),  # nothing new
        _row("retrying", "research", 1, {"topic": 1.5}),
        _row("running", "research", 2, {"topic": 1.5}),
        _row("succeeded", "publish", 2, {"topic": 1.5, "research": 3.0}),
    ]
    seen, kinds = None, []
    for row in steps:
        kinds += [(e.kind.value, e.status or e.stage) for e in events_between(seen, row)]
        seen = row
    assert kinds == [
        ("waiting", "queued"),
        ("attempt", "topic"),
        ("started", "topic"),
        ("finished", "topic"),
        ("started", "research"),
        ("waiting", "retrying"),
        ("attempt", "research"),
        ("started", "research"),
        ("finished", "research"),
        ("done", "succeeded"),
    ]
