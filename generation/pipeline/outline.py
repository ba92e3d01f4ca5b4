"""Stage 3, outline: a title and sections, each tied to the sources it may cite."""

from __future__ import annotations

from dataclasses import replace

from generation.exceptions import NotEnoughSources
from generation.pipeline import prompts
from generation.pipeline.llm import LLMClient
from generation.pipeline.types import Outline, SectionPlan, Source, TopicPlan
from generation.research import select_passages


async def make_outline(
    llm: LLMClient, *, plan: TopicPlan, sources: dict[int, Source], sections: int, min_sources: int
) -> Outline:
    """Plan the article from short passages of every source (writing model); sections
    with too few usable sources are merged (`fit_sections`). The title is the model's:
    the caller makes it distinct from the blog's."""
    terms = f"{plan.topic} {plan.angle}"
    quoted = [
        (s.number, s.title, "\n".join(select_passages(s.text, terms, max_chars=700)))
        for s in sources.values()
    ]
    draft = await llm.json(
        system=prompts.OUTLINE_SYSTEM,
        user=prompts.outline_prompt(
            topic=plan.topic, angle=plan.angle, sections=sections, sources=quoted
        ),
        schema_name="outline",
        schema=prompts.OUTLINE_SCHEMA,
        stage="outline",
        max_tokens=1500,
    )
    planned = [
        SectionPlan(s["heading"], tuple(s["key_points"]), tuple(s["sources"]))
        for s in draft["sections"]
    ]
    fitted = fit_sections(planned, valid=set(sources), min_sources=min_sources)
    return Outline(title=draft["title"].strip(), angle=plan.angle, sections=tuple(fitted))


def fit_sections(
    sections: list[SectionPlan], *, valid: set[int], min_sources: int
) -> list[SectionPlan]:
    """Keep only real source numbers; fold a thinly sourced section into its neighbour.

    A section with fewer than `min_sources` usable sources is never written from the
    model's memory: its points join the previous section (or the next, for the first).
    """
    cleaned = [
        SectionPlan(
            heading=s.heading.strip(),
            key_points=tuple(p.strip() for p in s.key_points if p.strip()),
            sources=tuple(sorted({n for n in s.sources if n in valid})),
        )
        for s in sections
        if s.heading.strip()
    ]
    fitted: list[SectionPlan] = []
    carry: SectionPlan | None = None
    for section in cleaned:
        if carry:
            section = _merge(carry, section, keep_heading_of=section)
            carry = None
        if len(section.sources) >= min_sources:
            fitted.append(section)
        elif fitted:
            fitted[-1] = _merge(fitted[-1], section, keep_heading_of=fitted[-1])
        else:
            carry = section
    if carry and fitted:
        fitted[0] = _merge(carry, fitted[0], keep_heading_of=fitted[0])
    fitted = [s for s in fitted if len(s.sources) >= min_sources]
    if not fitted:
        raise NotEnoughSources(
            f"No section has {min_sources} usable sources; refusing to write from memory."
        )
    return fitted


def _merge(first: SectionPlan, second: SectionPlan, *, keep_heading_of: SectionPlan) -> SectionPlan:
    return replace(
        keep_heading_of,
        key_points=(*first.key_points, *second.key_points)[:8],
        sources=tuple(sorted({*first.sources, *second.sources})),
    )
