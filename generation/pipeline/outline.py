"""Stage 3, outline: a title and sections, each tied to the sources it may cite."""

from __future__ import annotations

from generation.exceptions import NotEnoughSources
from generation.llm import LLMClient
from generation.pipeline import prompts
from generation.pipeline.types import Section, Source
from generation.research import select_passages


async def make_outline(
    llm: LLMClient, *, topic: str, angle: str, sources: list[Source], sections: int
) -> dict:
    """Plan the article from short passages of every source (writing model)."""
    quoted = [
        (s.number, s.title, "\n".join(select_passages(s.text, f"{topic} {angle}", max_chars=700)))
        for s in sources
    ]
    return await llm.json(
        system=prompts.OUTLINE_SYSTEM,
        user=prompts.outline_prompt(topic=topic, angle=angle, sections=sections, sources=quoted),
        schema_name="outline",
        schema=prompts.OUTLINE_SCHEMA,
        stage="outline",
        max_tokens=1500,
    )


def fit_sections(sections: list[Section], *, valid: set[int], min_sources: int) -> list[Section]:
    """Keep only real source numbers; fold a thinly sourced section into its neighbour.

    A section with fewer than `min_sources` usable sources is never written from the
    model's memory: its points join the previous section (or the next, for the first).
    """
    cleaned = [
        {
            "heading": s["heading"].strip(),
            "key_points": [p.strip() for p in s["key_points"] if p.strip()],
            "sources": sorted({n for n in s["sources"] if n in valid}),
        }
        for s in sections
        if s["heading"].strip()
    ]
    fitted: list[Section] = []
    carry: Section | None = None
    for section in cleaned:
        if carry:
            section = _merge(carry, section, keep_heading_of=section)
            carry = None
        if len(section["sources"]) >= min_sources:
            fitted.append(section)
        elif fitted:
            fitted[-1] = _merge(fitted[-1], section, keep_heading_of=fitted[-1])
        else:
            carry = section
    if carry and fitted:
        fitted[0] = _merge(carry, fitted[0], keep_heading_of=fitted[0])
    fitted = [s for s in fitted if len(s["sources"]) >= min_sources]
    if not fitted:
        raise NotEnoughSources(
            f"No section has {min_sources} usable sources; refusing to write from memory."
        )
    return fitted


def _merge(first: Section, second: Section, *, keep_heading_of: Section) -> Section:
    return {
        "heading": keep_heading_of["heading"],
        "key_points": [*first["key_points"], *second["key_points"]][:8],
        "sources": sorted({*first["sources"], *second["sources"]}),
    }
