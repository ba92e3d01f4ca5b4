"""Stage 4, sections: every section, the framing and the metadata draft, concurrently.

Each section sees only its own sources' best passages. The pieces that finish are kept
even when another piece fails, so the next attempt writes only what is missing. The
metadata draft is written here because it needs no section text (so it costs no wall
time); its own seconds go with it, to be booked to the metadata stage.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import replace
from typing import Any

from generation.pipeline import prompts
from generation.pipeline.llm import LLMClient
from generation.pipeline.metadata import draft_metadata
from generation.pipeline.types import Framing, Outline, PartialDraft, SectionPlan, Source
from generation.research import select_passages


async def write_section(
    llm: LLMClient,
    *,
    title: str,
    section: SectionPlan,
    sources: dict[int, Source],
    others: tuple[SectionPlan, ...] = (),
) -> str:
    """One section in Markdown paragraphs with [n] citations (writing model); `others`
    are the sibling sections, named so that concurrent writers divide the ground."""
    terms = " ".join([section.heading, *section.key_points])
    quoted = [
        (n, sources[n].title, "\n".join(select_passages(sources[n].text, terms, max_chars=1500)))
        for n in section.sources
    ]
    text = await llm.text(
        system=prompts.SECTION_SYSTEM,
        user=prompts.section_prompt(
            title=title,
            heading=section.heading,
            key_points=section.key_points,
            sources=quoted,
            others=others,
        ),
        stage="sections",
        max_tokens=1200,
    )
    return text.strip()


async def write_framing(llm: LLMClient, *, summary: str) -> Framing:
    answer = await llm.json(
        system=prompts.FRAMING_SYSTEM,
        user=prompts.framing_prompt(summary=summary),
        schema_name="framing",
        schema=prompts.FRAMING_SCHEMA,
        stage="sections",
        max_tokens=800,
    )
    return Framing(introduction=answer["introduction"], conclusion=answer["conclusion"])


async def _timed(work: Awaitable[Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = await work
    return result, round(time.perf_counter() - started, 3)


async def write_all(
    llm: LLMClient,
    *,
    outline: Outline,
    sources: dict[int, Source],
    done: PartialDraft,
    tags: list[str],
    categories: list[str],
) -> tuple[PartialDraft, list[BaseException]]:
    """Write what `done` lacks; return every finished piece and the failed ones' errors."""
    summary = prompts.outline_summary(outline.title, outline.angle, outline.sections)
    pending: dict[Any, Awaitable] = {}
    for index, section in enumerate(outline.sections):
        if index not in done.sections:
            others = tuple(s for i, s in enumerate(outline.sections) if i != index)
            pending[index] = write_section(
                llm, title=outline.title, section=section, sources=sources, others=others
            )
    if done.framing is None:
        pending["framing"] = write_framing(llm, summary=summary)
    if done.metadata is None:
        draft = draft_metadata(llm, summary=summary, tags=tags, categories=categories)
        pending["metadata"] = _timed(draft)
    answers = await asyncio.gather(*pending.values(), return_exceptions=True)
    results = dict(zip(pending, answers, strict=True))
    finished = {k: v for k, v in results.items() if not isinstance(v, BaseException)}
    errors = [v for v in results.values() if isinstance(v, BaseException)]
    return _merged(done, finished), errors


def _merged(done: PartialDraft, finished: dict[Any, Any]) -> PartialDraft:
    merged = replace(done, sections={**done.sections})
    for key, value in finished.items():
        if key == "framing":
            merged.framing = value
        elif key == "metadata":
            merged.metadata, merged.metadata_seconds = value
        else:
            merged.sections[key] = value
    return merged
