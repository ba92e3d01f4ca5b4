"""Every door refuses with a message, never a 500.

A request for runs can be refused for many reasons, all of them a `GenerationError` with a
one-line message: bad input (`InvalidRequest`), today's budget spent (`BudgetExceeded`),
Redis down (`QueueUnavailable`), a schedule that cannot run. Each door (admin actions and
views, commands) wraps its call in `refused(say)`, and `say` shows that line its own way:
a form error, an admin message, a `CommandError`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NoReturn

from django.core.management.base import CommandError

from generation.exceptions import GenerationError


@dataclass
class Refusal:
    """What `refused` caught: falsy while the request went through."""

    message: str = ""

    def __bool__(self) -> bool:
        return bool(self.message)


@contextlib.contextmanager
def refused(say: Callable[[str], object]) -> Iterator[Refusal]:
    """Run a door's request; a GenerationError becomes its one line, handed to `say`.

    `with refused(show) as refusal: runs = enqueue_posts(...)`, then `if refusal: ...`.
    Anything else (a bug) still propagates: only the refusals a user can act on are caught.
    """
    refusal = Refusal()
    try:
        yield refusal
    except GenerationError as exc:
        refusal.message = str(exc)
        say(refusal.message)


def command_error(message: str) -> NoReturn:
    """`say` for management commands: the line on stderr and a non-zero exit."""
    raise CommandError(message)
