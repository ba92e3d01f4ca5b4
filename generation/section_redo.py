"""Regenerate one section of a post: the service, its job on `content`, the door's enqueue.

The job rewrites the section from the run's checkpointed outline and stored sources
(generation.pipeline.redo), saves the result as a *proposed* revision of the post for an
editor to accept or discard, and adds what the calls cost to the run's usage.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F

from blog.models import Post, PostRevision
from generation import queues
from generation.llm import LLMClient, UsageLedger
from generation.models import GenerationRun, Stage
from generation.pipeline import checkpoints, redo, store
from generation.pipeline.redo import SectionRedoError
from generation.pipeline.untrusted import clean_source
from generation.usage import usage_by_stage_merged

JOB = "generation.section_redo.section_redo_job"
REDO_STAGE = "section_redo"


def section_redo_enqueue(*, post: Post, index: int, editor_id: int) -> None:
    """Queue the rewrite of section `index` (0-based) after the transaction commits."""
    run = GenerationRun.objects.filter(post=post).first()
    if run is None or Stage.OUTLINE not in run.checkpoints:
        raise SectionRedoError("No generation run with an outline made this post.")
    sections_count = len(checkpoints.read(run.checkpoints, Stage.OUTLINE).sections)
    if not 0 <= index < sections_count:
        raise SectionRedoError(f"The outline has no section {index + 1}.")
    transaction.on_commit(
        lambda: queues.get_queue("content").enqueue(
            JOB, run.pk, index, editor_id, job_timeout=settings.GENERATION_JOB_TIMEOUT
        )
    )


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

    async def work() -> tuple[str, object]:
        async with LLMClient.from_settings(ledger=ledger) as llm:
            return await redo.rewrite_section(
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
    body = redo.body_with_section(post.body, heading=heading, text=text, numbers=numbers)
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
