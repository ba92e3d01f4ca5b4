"""Stage 6, metadata: tags, category, excerpt and meta description.

The draft is written by the fast model from the outline while the sections are being
written (it needs no section text), so it costs no wall time; its call is booked to this
stage all the same (tokens, cost and seconds). `finalize` then cleans it.
"""

from __future__ import annotations

import re

from generation.pipeline import prompts
from generation.pipeline.llm import LLMClient
from generation.pipeline.types import Metadata

META_DESCRIPTION_MAX = 160
EXCERPT_MAX = 320
TAGS_MAX = 8


async def draft_metadata(
    llm: LLMClient, *, summary: str, tags: list[str], categories: list[str]
) -> Metadata:
    answer = await llm.json(
        system=prompts.METADATA_SYSTEM,
        user=prompts.metadata_prompt(summary=summary, tags=tags, categories=categories),
        schema_name="metadata",
        schema=prompts.METADATA_SCHEMA,
        stage="metadata",
        fast=True,
        max_tokens=500,
    )
    return Metadata(
        tags=tuple(answer["tags"]),
        category=answer["category"],
        excerpt=answer["excerpt"],
        meta_description=answer["meta_description"],
    )


def clip(text: str, limit: int) -> str:
    """Plain text of at most `limit` characters, cut at a word boundary with an ellipsis."""
    text = " ".join(re.sub(r"[*_`#>\[\]]", "", text).split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:.") + "…"


def clean_tags(names: list[str]) -> list[str]:
    """Short lowercase tags, de-duplicated, at most eight."""
    tags: list[str] = []
    for name in names:
        tag = " ".join(re.sub(r"[^\w\s+#.-]", "", name.lower()).split())[:50]
        if tag and tag not in tags:
            tags.append(tag)
    return tags[:TAGS_MAX]


def pick_category(proposed: str, *, override: str, existing: list[str]) -> str:
    """The asked-for category, else an existing one matching the proposal, else the proposal."""
    name = (override or proposed).strip()[:100] or "General"
    for category in existing:
        if category.lower() == name.lower():
            return category
    return name


def finalize(
    draft: Metadata, *, introduction: str, with_tags: bool, category: str, categories: list[str]
) -> Metadata:
    """The draft made fit to publish: clean tags (or none), a category (the asked-for one
    first), an excerpt and a meta description of bounded length."""
    excerpt = draft.excerpt.strip() or introduction
    return Metadata(
        tags=tuple(clean_tags(list(draft.tags))) if with_tags else (),
        category=pick_category(draft.category, override=category, existing=categories),
        excerpt=clip(excerpt, EXCERPT_MAX),
        meta_description=clip(draft.meta_description or excerpt, META_DESCRIPTION_MAX),
    )
