"""Stage 4, sections: every section, the framing and the metadata draft, concurrently.

Each section sees only its own sources' best passages. Results arrive as a dict so the
runner can checkpoint the pieces that finished even when another piece failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from generation.llm import LLMClient
from generation.pipeline import prompts
from generation.pipeline.metadata import draft_metadata
from generation.pipeline.types import Section, Source
from generation.research import select_passages


def section_key(index: int) -> str:
    return f"section:{index}"


async def write_section(
    llm: LLMClient,
    *,
    title: str,
    section: Section,
    sources: dict[int, Source],
    others: list[Section] | None = None,
) -> str:
    """One section in Markdown paragraphs with [n] citations (writing model); `others`
    are the sibling sections, named so that concurrent writers divide the ground."""
    terms = " ".join([section["heading"], *section["key_points"]])
    quoted = [
        (n, sources[n].title, "\n".join(select_passages(sources[n].text, terms, max_chars=1500)))
        for n in section["sources"]
    ]
    text = await llm.text(
        system=prompts.SECTION_SYSTEM,
        user=prompts.section_prompt(
            title=title,
            heading=section["heading"],
            key_points=section["key_points"],
            sources=quoted,
            others=others,
        ),
        stage="sections",
        max_tokens=1200,
    )
    return text.strip()


async def write_framing(llm: LLMClient, *, summary: str) -> dict:
    return await llm.json(
        system=prompts.FRAMING_SYSTEM,
        user=prompts.framing_prompt(summary=summary),
        schema_name="framing",
        schema=prompts.FRAMING_SCHEMA,
        stage="sections",
        max_tokens=800,
    )


async def write_all(
    llm: LLMClient,
    *,
    outline: dict,
    sources: dict[int, Source],
    done: dict,
    tags: list[str],
    categories: list[str],
) -> tuple[dict, list[BaseException]]:
    """Write what `done` lacks; return (finished pieces, errors of the failed ones)."""
    summary = prompts.outline_summary(outline["title"], outline["angle"], outline["sections"])
    pending: dict[str, Awaitable] = {}
    for index, section in enumerate(outline["sections"]):
        if section_key(index) not in done:
            others = [s for i, s in enumerate(outline["sections"]) if i != index]
            pending[section_key(index)] = write_section(
                llm, title=outline["title"], section=section, sources=sources, others=others
            )
    if "framing" not in done:
        pending["framing"] = write_framing(llm, summary=summary)
    if "metadata" not in done:
        pending["metadata"] = draft_metadata(llm, summary=summary, tags=tags, categories=categories)
    results = await asyncio.gather(*pending.values(), return_exceptions=True)
    finished = {
        k: v for k, v in zip(pending, results, strict=True) if not isinstance(v, BaseException)
    }
    errors = [v for v in results if isinstance(v, BaseException)]
    return finished, errors
