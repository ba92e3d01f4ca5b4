"""Stage 1, topic: the subject and a distinct angle for this run."""

from __future__ import annotations

import difflib
import re

from generation.llm import LLMClient
from generation.pipeline import prompts


def normalize_title(title: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", "", title.lower()).strip()


def is_near_duplicate(title: str, others: list[str], *, ratio: float = 0.85) -> bool:
    """True when `title` reads the same as one of `others` (case, punctuation ignored)."""
    mine = normalize_title(title)
    return any(
        difflib.SequenceMatcher(None, mine, normalize_title(other)).ratio() >= ratio
        for other in others
    )


def pick_configured_topic(configured: list[str], covered: list[str], index: int) -> str | None:
    """The index-th configured topic that no post or sibling run covers yet."""
    taken = {normalize_title(topic) for topic in covered}
    fresh = [topic for topic in configured if normalize_title(topic) not in taken]
    return fresh[index] if index < len(fresh) else None


async def choose_angle(
    llm: LLMClient,
    *,
    topic: str,
    index: int,
    count: int,
    taken_angles: list[str],
    avoid_titles: list[str],
) -> dict:
    """Ask the fast model for the subject (kept when given) and an angle not yet taken."""
    answer = await llm.json(
        system=prompts.TOPIC_SYSTEM,
        user=prompts.topic_prompt(
            topic=topic, index=index, count=count, taken=taken_angles, avoid_titles=avoid_titles
        ),
        schema_name="topic_angle",
        schema=prompts.TOPIC_SCHEMA,
        stage="topic",
        fast=True,
        max_tokens=300,
    )
    chosen = topic or answer["topic"].strip()
    if not chosen:
        from generation.exceptions import LLMError

        raise LLMError("The model suggested an empty topic.")
    return {"topic": chosen[:300], "angle": answer["angle"].strip()[:300]}
