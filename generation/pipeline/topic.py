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


def is_covered(topic: str, covered: list[str]) -> bool:
    """True when a covered topic or title reads the same as `topic`, or names it whole
    ("Redis and job queues" is covered by the post "Redis and job queues: a guide")."""
    mine = " ".join(normalize_title(topic).split())
    if not mine:
        return True
    return is_near_duplicate(topic, covered) or any(
        f" {mine} " in f" {' '.join(normalize_title(other).split())} " for other in covered
    )


def first_uncovered(candidates: list[dict], covered: list[str]) -> dict | None:
    """The first candidate ({"topic", "angle"}) that nothing in `covered` covers."""
    return next((c for c in candidates if not is_covered(c["topic"], covered)), None)


def pick_configured_topic(configured: list[str], covered: list[str], index: int) -> str | None:
    """The index-th configured topic that no post or sibling run covers yet."""
    fresh = [topic for topic in configured if not is_covered(topic, covered)]
    return fresh[index] if index < len(fresh) else None


async def suggest_topics(
    llm: LLMClient, *, count: int, covered: list[str], taken: list[str]
) -> list[dict]:
    """`count` candidate subjects, each with an angle, in the model's order of preference.

    The model is told what the blog covers and what the batch has taken, but the caller
    still checks: models repeat themselves.
    """
    user = prompts.topics_prompt(count=count, covered=covered, taken=taken)
    answer = await _ask(llm, prompts.TOPICS_SYSTEM, user, "topic_candidates", 80 * count)
    candidates: list[dict] = []
    for item in answer["candidates"]:
        subject, angle = " ".join(item["topic"].split())[:300], " ".join(item["angle"].split())
        if subject and not is_near_duplicate(subject, [c["topic"] for c in candidates]):
            candidates.append({"topic": subject, "angle": angle[:300]})
    return candidates


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
    user = prompts.topic_prompt(
        topic=topic, index=index, count=count, taken=taken_angles, avoid_titles=avoid_titles
    )
    answer = await _ask(llm, prompts.TOPIC_SYSTEM, user, "topic_angle", 300)
    chosen = topic or answer["topic"].strip()
    if not chosen:
        from generation.exceptions import LLMError

        raise LLMError("The model suggested an empty topic.")
    return {"topic": chosen[:300], "angle": answer["angle"].strip()[:300]}


async def _ask(llm: LLMClient, system: str, user: str, schema_name: str, max_tokens: int) -> dict:
    schemas = {"topic_candidates": prompts.TOPICS_SCHEMA, "topic_angle": prompts.TOPIC_SCHEMA}
    return await llm.json(
        system=system,
        user=user,
        schema_name=schema_name,
        schema=schemas[schema_name],
        stage="topic",
        fast=True,
        max_tokens=max_tokens,
    )
