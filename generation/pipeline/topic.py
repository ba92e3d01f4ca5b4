"""Stage 1, topic: the subject and a distinct angle for this run."""

from __future__ import annotations

from generation.exceptions import LLMError
from generation.pipeline import prompts
from generation.pipeline.llm import LLMClient
from generation.pipeline.types import TopicPlan
from generation.runs.titles import is_near_duplicate


async def suggest_topics(
    llm: LLMClient, *, count: int, covered: list[str], taken: list[str]
) -> list[TopicPlan]:
    """`count` candidate subjects, each with an angle, in the model's order of preference.

    The model is told what the blog covers and what the batch has taken, but the caller
    still checks: models repeat themselves.
    """
    user = prompts.topics_prompt(count=count, covered=covered, taken=taken)
    answer = await _ask(llm, prompts.TOPICS_SYSTEM, user, "topic_candidates", 80 * count)
    candidates: list[TopicPlan] = []
    for item in answer["candidates"]:
        subject, angle = " ".join(item["topic"].split())[:300], " ".join(item["angle"].split())
        if subject and not is_near_duplicate(subject, [c.topic for c in candidates]):
            candidates.append(TopicPlan(topic=subject, angle=angle[:300]))
    return candidates


async def choose_angle(
    llm: LLMClient,
    *,
    topic: str,
    index: int,
    count: int,
    taken_angles: list[str],
    avoid_titles: list[str],
) -> TopicPlan:
    """Ask the fast model for the subject (kept when given) and an angle not yet taken."""
    user = prompts.topic_prompt(
        topic=topic, index=index, count=count, taken=taken_angles, avoid_titles=avoid_titles
    )
    answer = await _ask(llm, prompts.TOPIC_SYSTEM, user, "topic_angle", 300)
    chosen = topic or answer["topic"].strip()
    if not chosen:
        raise LLMError("The model suggested an empty topic.")
    return TopicPlan(topic=chosen[:300], angle=answer["angle"].strip()[:300])


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
