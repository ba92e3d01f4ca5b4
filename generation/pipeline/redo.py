"""Rewriting one section of a finished post from the run's stored sources and outline.

No research and no outline call: the section's writer gets the same plan and sources as
the first time (limited to the sources the post already lists, so its numbering holds),
and the rewrite passes the same citation checks as the whole post did.
"""

from __future__ import annotations

import re
from dataclasses import replace

from blog.markdown import CITATION_MARKER
from generation.exceptions import GenerationError
from generation.llm import LLMClient
from generation.pipeline import sections, verify
from generation.pipeline.checkpoints import section_key
from generation.pipeline.types import CitationReport, Outline, Source


class SectionRedoError(GenerationError, ValueError):
    """The section cannot be rewritten (no such section, no listed source to write from)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


async def rewrite_section(
    llm: LLMClient,
    *,
    outline: Outline,
    index: int,
    sources: dict[int, Source],
    threshold: float,
    judge: bool,
    secrets: tuple[str, ...] = (),
) -> tuple[str, CitationReport]:
    """Section `index` written again and checked; `sources` are numbered as the run's."""
    if not 0 <= index < len(outline.sections):
        raise SectionRedoError(f"The outline has no section {index + 1}.")
    plan = outline.sections[index]
    usable = {n: sources[n] for n in plan.sources if n in sources}
    if not usable:
        raise SectionRedoError(f"No source the post lists backs section {plan.heading!r}.")
    plan = replace(plan, sources=tuple(usable))
    others = tuple(s for i, s in enumerate(outline.sections) if i != index)
    text = await sections.write_section(
        llm, title=outline.title, section=plan, sources=usable, others=others
    )
    texts, report = await verify.verify_post(
        llm,
        pieces=[verify.Piece(section_key(index), text, plan.sources)],
        sources=usable,
        threshold=threshold,
        judge=judge,
        secrets=secrets,
    )
    return texts[section_key(index)], report


def body_with_section(body: str, *, heading: str, text: str, numbers: dict[int, int]) -> str:
    """The post's body with the part under `## heading` replaced by `text`, its run
    numbers rewritten to the post's (`numbers`: run number to post number)."""
    start = re.search(rf"^## {re.escape(heading)}[ \t]*$", body, flags=re.M)
    if start is None:
        raise SectionRedoError(f"The post has no section headed {heading!r} any more.")
    following = re.search(r"^## ", body[start.end() :], flags=re.M)
    end = start.end() + following.start() if following else len(body)

    def to_post(match: re.Match) -> str:
        olds = [int(n) for n in match.group(1).split(",")]
        return "".join(f"[{numbers[n]}]" for n in olds if n in numbers)

    rewritten = CITATION_MARKER.sub(to_post, text.strip())
    rest = body[end:].lstrip()
    return f"{body[: start.end()]}\n\n{rewritten}" + (f"\n\n{rest}" if rest else "")
