"""Title and topic comparison: plain functions of strings, shared by the topic stage, the
pipeline's database side and publishing (no ORM, no LLM)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Protocol, TypeVar


class HasTopic(Protocol):
    @property
    def topic(self) -> str: ...


T = TypeVar("T", bound=HasTopic)


def normalize_title(title: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", "", title.lower()).strip()


def is_near_duplicate(title: str, others: Iterable[str], *, ratio: float = 0.85) -> bool:
    """True when `title` reads the same as one of `others` (case, punctuation ignored)."""
    mine = normalize_title(title)
    return any(
        difflib.SequenceMatcher(None, mine, normalize_title(other)).ratio() >= ratio
        for other in others
    )


def is_covered(topic: str, covered: list[str]) -> bool:
    """True when a covered topic or title reads the same as `topic`, or names it whole
    ("Redis and job queues" is covered by the post "Redis and job queues: a guide")."""
    mine = " ".join(normalize_title(topic).split())
    if not mine:
        return True
    return is_near_duplicate(topic, covered) or any(
        f" {mine} " in f" {' '.join(normalize_title(other).split())} " for other in covered
    )


def first_uncovered(candidates: list[T], covered: list[str]) -> T | None:
    """The first candidate that nothing in `covered` covers."""
    return next((c for c in candidates if not is_covered(c.topic, covered)), None)


def pick_configured_topic(configured: list[str], covered: list[str], index: int) -> str | None:
    """The index-th configured topic that no post or sibling run covers yet."""
    fresh = [topic for topic in configured if not is_covered(topic, covered)]
    return fresh[index] if index < len(fresh) else None
