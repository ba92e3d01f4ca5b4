"""Regenerate one section of a post: the job on `content` and the rewrite it runs.

No research and no outline call: the section's writer gets the same plan and sources as
the first time (limited to the sources the post already lists, so its numbering holds),
and the rewrite passes the same citation checks as the whole post did. The job saves the
result as a *proposed* revision of the post for an editor to accept or discard, adds
what the calls cost to the run's usage and books it as the run's spend (RunSpend), which
the daily budget counts. The door that queues it is `generation.admin.section_redo`; a
living post's refresh (`generation.freshness.refresh`) rewrites several sections at once
through `rewrite_sections`.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, replace
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F

from blog.markdown import CITATION_MARKER
from blog.models import Post, PostRevision
from blog.services import revision_propose
from generation.exceptions import SectionRedoError
from generation.models import GenerationRun, Stage
from generation.operations.usage import usage_by_stage_merged
from generation.pipeline import checkpoints, sections, store, verify
from generation.pipeline.checkpoints import section_key
from generation.pipeline.evidence.untrusted import clean_source
from generation.pipeline.llm import LLMClient, UsageLedger
from generation.pipeline.types import CitationReport, Outline, Source

REDO_STAGE = "section_redo"


def section_redo_job(run_id: int, index: int, editor_id: int) -> int:
    """Job: rewrite the section and propose it; returns the proposed revision's id."""
    inputs = redo_inputs(run_id)
    ((text, report),) = rewrite_sections(
        run_id, outline=inputs.outline, indexes=[index], sources=inputs.sources
    ).values()
    post = inputs.post
    heading = inputs.outline.sections[index].heading
    body = body_with_section(post.body, heading=heading, text=text, numbers=inputs.numbers)
    kept, claims = report.kept, report.claims
    revision = revision_propose(
        post,
        body=body,
        editor_id=editor_id,
        origin=PostRevision.Origin.SECTION_REDO,
        note=f"Section {heading!r} rewritten: {kept} of {claims} claims kept",
    )
    return revision.pk


@dataclass(frozen=True)
class RedoInputs:
    """What a rewrite starts from: the run's post and outline, and the sources the post
    lists, keyed by the run's numbers (`numbers` maps them to the post's)."""

    post: Post
    outline: Outline
    numbers: dict[int, int]
    sources: dict[int, Source]


def redo_inputs(run_id: int) -> RedoInputs:
    run = GenerationRun.objects.select_related("post").get(pk=run_id)
    if run.post is None:
        raise SectionRedoError(f"Run {run_id} has no post.")
    outline = checkpoints.read(run.checkpoints, Stage.OUTLINE)
    cited: list[int] = list(run.checkpoints.get(Stage.CITATIONS, {}).get("cited") or [])
    numbers = {old: new for new, old in enumerate(cited, start=1)}  # run number -> post's
    sources = {n: clean_source(s) for n, s in store.sources_load(run).items() if n in numbers}
    return RedoInputs(post=run.post, outline=outline, numbers=numbers, sources=sources)


def rewrite_sections(
    run_id: int,
    *,
    outline: Outline,
    indexes: list[int],
    sources: dict[int, Source],
    stage: str = REDO_STAGE,
) -> dict[int, tuple[str, CitationReport]]:
    """Sections `indexes` written again at once and checked, what the calls cost added
    to the run under `stage` (and booked against the daily budget), even on failure."""
    ledger = UsageLedger()

    async def work() -> list[tuple[str, CitationReport]]:
        async with LLMClient.from_settings(ledger=ledger) as llm:
            return await asyncio.gather(
                *(
                    rewrite_section(
                        llm,
                        outline=outline,
                        index=index,
                        sources=sources,
                        threshold=settings.GENERATION_CITATION_THRESHOLD,
                        judge=settings.GENERATION_CITATION_JUDGE,
                    )
                    for index in indexes
                )
            )

    try:
        results = asyncio.run(work())
    finally:
        _charge(run_id, ledger, stage=stage)
    return dict(zip(indexes, results, strict=True))


@transaction.atomic
def _charge(run_id: int, ledger: UsageLedger, *, stage: str) -> None:
    """Add the calls, tokens and cost to the run (its costs stay whole) and book them on
    the days they were paid (RunSpend), so the daily budget counts them."""
    totals = ledger.totals()
    if not totals["calls"]:
        return
    run = GenerationRun.objects.select_for_update().get(pk=run_id)
    booked = UsageLedger()  # under its own name in the run's usage per stage
    for call in ledger.calls:
        booked.add(replace(call, stage=stage))
    GenerationRun.objects.filter(pk=run_id).update(
        prompt_tokens=F("prompt_tokens") + totals["prompt_tokens"],
        completion_tokens=F("completion_tokens") + totals["completion_tokens"],
        llm_calls=F("llm_calls") + totals["calls"],
        cost_usd=F("cost_usd") + Decimal(totals["cost_usd"]),
        usage_by_stage=usage_by_stage_merged(run.usage_by_stage, booked),
    )
    store.spend_book(run_id, attempt=run.attempts, calls=ledger.calls)


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


def section_span(body: str, heading: str) -> tuple[int, int] | None:
    """Where the text under `## heading` starts and ends in `body` (None: no such heading)."""
    start = re.search(rf"^## {re.escape(heading)}[ \t]*$", body, flags=re.M)
    if start is None:
        return None
    following = re.search(r"^## ", body[start.end() :], flags=re.M)
    return start.end(), start.end() + following.start() if following else len(body)


def body_with_section(body: str, *, heading: str, text: str, numbers: dict[int, int]) -> str:
    """The post's body with the part under `## heading` replaced by `text`, its run
    numbers rewritten to the post's (`numbers`: run number to post number)."""
    span = section_span(body, heading)
    if span is None:
        raise SectionRedoError(f"The post has no section headed {heading!r} any more.")
    start, end = span

    def to_post(match: re.Match) -> str:
        olds = [int(n) for n in match.group(1).split(",")]
        return "".join(f"[{numbers[n]}]" for n in olds if n in numbers)

    rewritten = CITATION_MARKER.sub(to_post, text.strip())
    rest = body[end:].lstrip()
    return f"{body[:start]}\n\n{rewritten}" + (f"\n\n{rest}" if rest else "")
