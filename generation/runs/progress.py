"""What a run reports while it works: one typed event, for every display and for metrics.

The runner emits them in-process (the synchronous command); `events_from_rows` makes the
same events from the database for a process that only watches (`--follow`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class EventKind(StrEnum):
    WAITING = "waiting"  # queued or retrying, not running now
    ATTEMPT = "attempt"  # an attempt claimed the run
    STARTED = "started"  # a stage started
    NOTE = "note"  # something worth showing within a stage
    FINISHED = "finished"  # a stage finished, in `seconds`
    DONE = "done"  # the run ended: succeeded, failed or canceled (`status`)


@dataclass(frozen=True)
class RunEvent:
    run_id: int
    kind: EventKind
    stage: str = ""
    message: str = ""
    seconds: float | None = None
    status: str = ""


EventSink = Callable[[RunEvent], None]


def counted(number: int, noun: str) -> str:
    """`1 figure`, `2 figures`, `0 claims`: a count with its noun agreeing."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def ignore(event: RunEvent) -> None:
    return None


def fan_out(*sinks: EventSink | None) -> EventSink:
    """One sink that hands each event to every given sink."""
    chosen = [sink for sink in sinks if sink is not None]

    def emit(event: RunEvent) -> None:
        for sink in chosen:
            sink(event)

    return emit


FINISHED_STATUSES = ("succeeded", "failed", "canceled")


@dataclass(frozen=True)
class RunRow:
    """What a watcher reads of a run each poll (see selectors.runs_progress_rows)."""

    run_id: int
    status: str
    stage: str
    attempts: int
    max_attempts: int
    timings: dict


def events_between(before: RunRow | None, now: RunRow) -> list[RunEvent]:
    """The events that turn what a watcher saw last poll into what it sees now."""
    events: list[RunEvent] = []
    seen_attempt = before.attempts if before else 0
    if now.status in ("queued", "retrying") and (before is None or before.status != now.status):
        events.append(RunEvent(now.run_id, EventKind.WAITING, stage=now.stage, status=now.status))
    if now.attempts > seen_attempt and now.status != "queued":
        message = f"attempt {now.attempts}/{now.max_attempts}"
        events.append(RunEvent(now.run_id, EventKind.ATTEMPT, stage=now.stage, message=message))
    done_before = set(before.timings) if before else set()
    for stage, seconds in now.timings.items():
        if stage not in done_before and isinstance(seconds, int | float):
            events.append(RunEvent(now.run_id, EventKind.FINISHED, stage=stage, seconds=seconds))
    if _stage_started(before, now):
        events.append(RunEvent(now.run_id, EventKind.STARTED, stage=now.stage))
    if now.status in FINISHED_STATUSES and (before is None or before.status != now.status):
        events.append(RunEvent(now.run_id, EventKind.DONE, stage=now.stage, status=now.status))
    return events


def _stage_started(before: RunRow | None, now: RunRow) -> bool:
    moved = before is None or before.stage != now.stage or before.attempts != now.attempts
    return now.status == "running" and bool(now.stage) and moved and now.stage not in now.timings
