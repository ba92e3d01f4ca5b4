"""Regenerate one section of a post: the job on `content` and the rewrite it runs.

No research and no outline call: the section's writer gets the same plan and sources as
the first time (limited to the sources the post already lists, so its numbering holds),
and the rewrite passes the same citation checks as the whole post did. The job saves the
result as a *proposed* revision of the post for an editor to accept or discard, and adds
what the calls cost to the run's usage. The door that queues it is
`generation.admin.section_redo`.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F

from blog.markdown import CITATION_MARKER
from blog.models import PostRevision
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
    run = GenerationRun.objects.select_related("post").get(pk=run_id)
    if run.post is None:
        raise SectionRedoError(f"Run {run_id} has no post.")
    outline = checkpoints.read(run.checkpoints, Stage.OUTLINE)
    cited: list[int] = list(run.checkpoints.get(Stage.CITATIONS, {}).get("cited") or [])
    numbers = {old: new for new, old in enumerate(cited, start=1)}  # run number -> post's
    sources = {n: clean_source(s) for n, s in store.sources_load(run).items() if n in numbers}
    ledger = UsageLedger()

    async def work() -> tuple[str, CitationReport]:
        async with LLMClient.from_settings(ledger=ledger) as llm:
            return await rewrite_section(
                llm,
                outline=outline,
                index=index,
                sources=sources,
                threshold=settings.GENERATION_CITATION_THRESHOLD,
                judge=settings.GENERATION_CITATION_JUDGE,
            )

    try:
        text, report = asyncio.run(work())
    finally:
        _charge(run_id, ledger)
    post = run.post
    heading = outline.sections[index].heading
    body = body_with_section(post.body, heading=heading, text=text, numbers=numbers)
    kept, claims = report.kept, report.claims
    revision = PostRevision.objects.create(
        post=post,
        title=post.title,
        excerpt=post.excerpt,
        body=body,
        author=get_user_model().objects.filter(pk=editor_id).first(),
        origin=PostRevision.Origin.SECTION_REDO,
        note=f"Section {heading!r} rewritten: {kept} of {claims} claims kept"[:300],
        proposed=True,
    )
    return revision.pk


@transaction.atomic
def _charge(run_id: int, ledger: UsageLedger) -> None:
    """Add the redo's calls, tokens and cost to the run (its costs stay whole)."""
    totals = ledger.totals()
    if not totals["calls"]:
        return
    run = GenerationRun.objects.select_for_update().get(pk=run_id)
    booked = UsageLedger()  # under its own name in the run's usage per stage
    for call in ledger.calls:
        booked.add(replace(call, stage=REDO_STAGE))
    GenerationRun.objects.filter(pk=run_id).update(
        prompt_tokens=F("prompt_tokens") + totals["prompt_tokens"],
        completion_tokens=F("completion_tokens") + totals["completion_tokens"],
        llm_calls=F("llm_calls") + totals["calls"],
        cost_usd=F("cost_usd") + Decimal(totals["cost_usd"]),
        usage_by_stage=usage_by_stage_merged(run.usage_by_stage, booked),
    )


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
