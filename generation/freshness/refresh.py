"""A living post's proposed refresh: the sections a re-read found wanting, written again
from the sources as they read now, through the section redo.

The plan (`refresh_plan`) takes the post's latest flagged verification: a section is
affected when it holds a claim that failed the re-check, or cites a source whose page is
gone. Its writer is given the run's stored sources with each changed source's text
replaced by the page's text now (`SourceCheck.new_text`) and the gone sources left out;
the rewrite passes the same citation checks, against that fresh text. The job
(`refresh_job`, on `content`) saves ONE proposed revision (origin "refresh") for an
editor to accept; its LLM calls are charged to the run under `refresh` and booked against
the daily budget. Accepting it (`refresh_accept`) publishes the new body, dates it
(`Post.refreshed_at`, JSON-LD dateModified), clears the flag, and stores on each
refreshed source the passage the post now cites, when it was read and that it is there.
The introduction and conclusion are not sections of the outline: they are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from blog import services
from blog.markdown import CITATION_MARKER
from blog.models import Post, PostRevision, PostSource
from generation import queues
from generation.execution.section_redo import (
    RedoInputs,
    body_with_section,
    redo_inputs,
    rewrite_sections,
    section_span,
)
from generation.freshness.flags import (
    REFRESHED,
    RefreshRefused,
    flagged_verification,
    refresh_run,
    resolve,
)
from generation.models import ClaimCheck, PostVerification, SourceCheck
from generation.operations.budget import budget_require
from generation.pipeline.evidence.citations import SourceIndex
from generation.pipeline.evidence.claims import parse_draft
from generation.pipeline.evidence.untrusted import clean_source
from generation.pipeline.types import Source

REFRESH_STAGE = "refresh"  # the run's usage per stage books a refresh's calls under it
JOB = "generation.freshness.refresh.refresh_job"
# The verdicts whose page has a text now that replaces the stored one.
FRESH = (SourceCheck.Verdict.CHANGED, SourceCheck.Verdict.PASSAGE_GONE, SourceCheck.Verdict.MOVED)
PASSAGE_JOIN = "\n…\n"
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class RefreshPlan:
    sections: tuple[int, ...]  # outline indexes to rewrite, in order
    skipped: tuple[str, ...]  # affected headings no source is left for
    sources: dict[int, Source]  # by run number: the text now; gone sources left out
    fresh: tuple[int, ...]  # post numbers whose text is the page's new text


def refresh_plan(inputs: RedoInputs, verification: PostVerification) -> RefreshPlan:
    """Which sections to rewrite, and from which sources; refuses when none can be."""
    checks = {check.number: check for check in verification.source_checks.all()}
    gone = {n for n, check in checks.items() if check.verdict == SourceCheck.Verdict.GONE}
    sources: dict[int, Source] = {}
    fresh: list[int] = []
    for number, source in inputs.sources.items():
        listed = inputs.numbers[number]
        check = checks.get(listed)
        if listed in gone:
            continue
        if check is not None and check.verdict in FRESH and check.new_text:
            source = clean_source(replace(source, text=check.new_text))  # untrusted, as ever
            fresh.append(listed)
        sources[number] = source
    texts = _section_texts(inputs)
    failed: list[str] = []
    unplaced: set[int] = set()  # sources of failed claims found in no section (edited since)
    for claim in ClaimCheck.objects.filter(verification=verification, backed=False):
        sentence = _words(claim.sentence)
        if sentence.strip() and any(sentence in words for _, words in texts.values()):
            failed.append(sentence)
        else:
            unplaced.add(claim.source_number)
    affected, skipped = [], []
    for index, (cited, words) in texts.items():
        hit = bool(cited & (gone | unplaced)) or any(sentence in words for sentence in failed)
        if not hit:
            continue
        section = inputs.outline.sections[index]
        if any(n in sources for n in section.sources):
            affected.append(index)
        else:
            skipped.append(section.heading)
    if not affected:
        raise RefreshRefused(
            "Nothing to refresh: no section of the post holds a failed claim or cites a gone "
            "source that a source left could rewrite (the introduction and conclusion are "
            "kept); edit it by hand, mark it still correct, or unpublish it."
        )
    return RefreshPlan(tuple(affected), tuple(skipped), sources, tuple(sorted(fresh)))


def _section_texts(inputs: RedoInputs) -> dict[int, tuple[set[int], str]]:
    """Each outline section of the post now: the numbers it cites and its plain words."""
    texts = {}
    for index, section in enumerate(inputs.outline.sections):
        span = section_span(inputs.post.body, section.heading)
        if span is not None:
            text = inputs.post.body[span[0] : span[1]]
            texts[index] = (_cited(text), _words(text))
    return texts


def _cited(text: str) -> set[int]:
    return {int(n) for m in CITATION_MARKER.finditer(text) for n in m.group(1).split(",")}


def _words(text: str) -> str:
    """Plain words between spaces, so one sentence is found in another text word-whole."""
    return f" {' '.join(_WORD.findall(CITATION_MARKER.sub('', text).lower()))} "


# --- The job --------------------------------------------------------------------------------


def refresh_enqueue(verification: PostVerification, *, editor_id: int) -> None:
    """Queue the refresh job on `content` once the caller's transaction commits."""
    transaction.on_commit(
        lambda: queues.get_queue("content").enqueue(
            JOB, verification.pk, editor_id, job_timeout=settings.GENERATION_JOB_TIMEOUT
        )
    )


def refresh_job(verification_id: int, editor_id: int) -> int:
    """Job: rewrite the affected sections from the fresh sources and propose the result
    as one revision (replacing an earlier refresh proposal); returns its id."""
    verification = PostVerification.objects.select_related("post").get(pk=verification_id)
    run = refresh_run(verification.post)
    budget_require()  # the door asked too; the budget may have run out since
    inputs = redo_inputs(run.pk)
    plan = refresh_plan(inputs, verification)
    results = rewrite_sections(
        run.pk,
        outline=inputs.outline,
        indexes=list(plan.sections),
        sources=plan.sources,
        stage=REFRESH_STAGE,
    )
    post = inputs.post
    body, done = post.body, []
    for index, (text, report) in results.items():
        heading = inputs.outline.sections[index].heading
        body = body_with_section(body, heading=heading, text=text, numbers=inputs.numbers)
        done.append(f"{heading!r} ({report.kept} of {report.claims} claims kept)")
    note = "Refreshed from the sources as they read now: " + ", ".join(done)
    if plan.skipped:
        note += "; not rewritten, no source left: " + ", ".join(map(repr, plan.skipped))
    revision = services.revision_propose(
        post,
        body=body,
        editor_id=editor_id,
        origin=PostRevision.Origin.REFRESH,
        note=note,
        replace=True,
    )
    return revision.pk


# --- Accepting it ---------------------------------------------------------------------------


@transaction.atomic
def refresh_accept(revision: PostRevision, *, editor: User) -> Post:
    """Publish a proposed refresh: the body, the date, the flag off, the sources re-read."""
    post = services.revision_accept(revision, editor=editor)  # dates it, clears the flag
    verification = flagged_verification(post)
    if verification is not None:
        services.sources_reread(post, _reread(post, verification))
        resolve(verification, REFRESHED, editor=editor)
    return post


def _reread(post: Post, verification: PostVerification) -> list[services.SourceReread]:
    """Each source the refresh read anew: the passages of its text now that the post's
    claims cite (the stored passage is kept when no claim cites it any more)."""
    checks = [
        check
        for check in verification.source_checks.all()
        if check.verdict in FRESH and check.new_text
    ]
    listed = {s.number: s for s in PostSource.objects.filter(post=post)}
    claims = [
        (sentence.cited, sentence.to_claim())
        for sentence in parse_draft("body", post.body, known=set(listed)).sentences()
        if sentence.cited
    ]
    threshold = settings.GENERATION_CITATION_THRESHOLD
    rows = []
    for check in checks:
        if check.number not in listed:
            continue
        index = SourceIndex(check.new_text)
        passages: list[str] = []
        for cited, claim in claims:
            if check.number in cited:
                support = index.check(claim, number=check.number, threshold=threshold)
                if support.ok and support.passage not in passages:
                    passages.append(support.passage)
        moved = check.verdict == SourceCheck.Verdict.MOVED
        rows.append(
            services.SourceReread(
                number=check.number,
                passage=PASSAGE_JOIN.join(passages) or listed[check.number].passage,
                fetched_at=verification.finished_at or timezone.now(),
                availability=PostSource.Availability.MOVED
                if moved
                else PostSource.Availability.AVAILABLE,
            )
        )
    return rows
