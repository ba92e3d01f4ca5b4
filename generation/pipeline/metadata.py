"""Stage 6, metadata: tags, category, excerpt and meta description.

The draft is written by the fast model from the outline while the sections are being
written (it needs no section text), so it costs no wall time; its call is booked to this
stage all the same (tokens, cost and seconds). `finalize` then cleans it.
"""

from __future__ import annotations

import re

from generation.pipeline import prompts
from generation.pipeline.llm import LLMClient
from generation.pipeline.tags import choose_tags
from generation.pipeline.types import Metadata

META_DESCRIPTION_MAX = 160
EXCERPT_MAX = 320
CITATION_MARKERS = re.compile(r"\s*\[\d+(?:\s*[,\u2013-]\s*\d+)*\]")


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


def clean_tags(names: list[str], existing: list[str] | None = None) -> list[str]:
    """The tag rules (generation.pipeline.tags): no stop-words, filler or tags under three
    letters; one tag per subject in any case or number, spelled as an existing one."""
    return choose_tags(names, existing=existing or [])


def lead_of(body: str) -> str:
    """The post's own first paragraph of prose (not a heading, list or quote), without
    its citation markers: what a reader meets first, and so the excerpt."""
    for paragraph in re.split(r"\n\s*\n", body):
        text = paragraph.strip()
        if text and not text.startswith(("#", "-", "*", ">", "|", "```")) and text[0] != "[":
            return CITATION_MARKERS.sub("", text)
    return ""


def pick_category(proposed: str, *, override: str, existing: list[str]) -> str:
    """The asked-for category, else an existing one matching the proposal, else the proposal."""
    name = (override or proposed).strip()[:100] or "General"
    for category in existing:
        if category.lower() == name.lower():
            return category
    return name


def finalize(
    draft: Metadata,
    *,
    body: str,
    with_tags: bool,
    category: str,
    categories: list[str],
    tags: list[str] | None = None,
) -> Metadata:
    """The draft made fit to publish: clean tags (or none), a category (the asked-for one
    first), the post's lead as its excerpt (the model's when the post has no prose lead),
    and a meta description of bounded length."""
    excerpt = lead_of(body) or draft.excerpt.strip()
    return Metadata(
        tags=tuple(clean_tags(list(draft.tags), tags)) if with_tags else (),
        category=pick_category(draft.category, override=category, existing=categories),
        excerpt=clip(excerpt, EXCERPT_MAX),
        meta_description=clip(draft.meta_description or excerpt, META_DESCRIPTION_MAX),
    )
