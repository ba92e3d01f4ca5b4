"""The optional second check (GENERATION_CITATION_JUDGE): the fast model judges claims.

Claims are sent in batches (one request per piece of the post, at most BATCH claims
each, all at once) with their passages quoted as untrusted data; the answer is
structured output, one verdict per claim id. A claim the judge left unanswered keeps
the lexical verdict (None here), so a terse judge never empties a post.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from generation.pipeline import prompts
from generation.pipeline.llm import LLMClient

BATCH = 12

# (group key, claim, (source number, title, passage))
Item = tuple[str, str, tuple[int, str, str]]


@dataclass(frozen=True)
class Verdict:
    supported: bool
    reason: str


async def judge_claims(llm: LLMClient, items: list[Item]) -> list[Verdict | None]:
    """One verdict per item (None when the judge gave none), in the items' order."""
    groups: dict[str, list[int]] = {}
    for index, (key, _, _) in enumerate(items):
        groups.setdefault(key, []).append(index)
    batches = [
        indexes[start : start + BATCH]
        for indexes in groups.values()
        for start in range(0, len(indexes), BATCH)
    ]
    answers = await asyncio.gather(
        *(_judge_batch(llm, [items[i] for i in batch]) for batch in batches)
    )
    verdicts: list[Verdict | None] = [None] * len(items)
    for batch, answer in zip(batches, answers, strict=True):
        for index, verdict in zip(batch, answer, strict=True):
            verdicts[index] = verdict
    return verdicts


@dataclass(frozen=True)
class NumberedRequest:
    """A structured request about numbered items, answered with one object per id."""

    system: str
    schema_name: str
    schema: dict
    fast: bool
    tokens_per_item: int


JUDGE = NumberedRequest(prompts.JUDGE_SYSTEM, "citation_judge", prompts.JUDGE_SCHEMA, True, 60)
REPAIR = NumberedRequest(
    prompts.REPAIR_SYSTEM, "citation_repair", prompts.REPAIR_SCHEMA, False, 120
)


async def _judge_batch(llm: LLMClient, items: list[Item]) -> list[Verdict | None]:
    numbered = [(ident, claim, passage) for ident, (_, claim, passage) in enumerate(items, 1)]
    answers = await ask_numbered(llm, JUDGE, user=prompts.judge_prompt(numbered), count=len(items))
    return [
        None if a is None else Verdict(bool(a["supported"]), str(a.get("reason", "")))
        for a in answers
    ]


async def ask_numbered(
    llm: LLMClient, request: NumberedRequest, *, user: str, count: int
) -> list[dict | None]:
    """Ask about items numbered 1..count; the answer's single list holds objects with an
    "id": they come back in item order, None for an id the model left out."""
    reply = await llm.json(
        system=request.system,
        user=user,
        schema_name=request.schema_name,
        schema=request.schema,
        stage="citations",
        fast=request.fast,
        max_tokens=150 + request.tokens_per_item * count,
    )
    (answers,) = reply.values()
    by_id = {answer["id"]: answer for answer in answers}
    return [by_id.get(ident) for ident in range(1, count + 1)]
