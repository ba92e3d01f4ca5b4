"""Tag every log line written while a run executes with its id and topic.

`with run_context(run_id, topic): ...` sets a context variable that the logging filter
reads, so `grep -i "llm optimization" logs/*.log` finds all lines of that run, including
those of the HTTP and LLM clients and of concurrent asyncio tasks.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator

_current: contextvars.ContextVar[str] = contextvars.ContextVar("run_context", default="")


@contextlib.contextmanager
def run_context(run_id: int, topic: str) -> Iterator[None]:
    token = _current.set(f" [run {run_id} topic={topic!r}]" if topic else f" [run {run_id}]")
    try:
        yield
    finally:
        _current.reset(token)


def set_topic(run_id: int, topic: str) -> None:
    """Update the topic once the run has chosen one."""
    _current.set(f" [run {run_id} topic={topic!r}]")


class RunContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.run_context = _current.get()
        return True


class QuietMaintenanceFilter(logging.Filter):
    """Drop RQ's routine maintenance lines ("cleaning registries", every reaper interval
    per queue) unless LOG_LEVEL is DEBUG: they flood the console and the logs."""

    QUIET = ("Worker %s: cleaning registries", "Worker %s: cleaning group registries")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith(self.QUIET):
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True
