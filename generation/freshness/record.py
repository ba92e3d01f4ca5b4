"""The writes of a verification: claiming it, its findings in one transaction, failing it.

A verification is claimed (queued -> running, under a row lock) before any fetch; its
findings are written in one transaction after checking it is still this attempt's:
SourceCheck and ClaimCheck rows, the post's sources' availability, passages stored again
for older posts, the post's `last_verified_at` and, when flagged, `needs_refresh` with its
one-line reason. A crash before that commit leaves nothing but a running row, which the
tick fails once stale. The metrics are counted after the commit.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from blog.models import Post, PostSource
from generation.freshness.due import STALE_RUNNING
from generation.freshness.engine import Findings
from generation.freshness.plan import Plan
from generation.freshness.reread import Verdict
from generation.models import ClaimCheck, PostVerification, SourceCheck
from generation.operations import metrics
from generation.pipeline.store import spend_book

logger = logging.getLogger(__name__)

Status = PostVerification.Status
MAX_NEW_TEXT = 200_000
# What a source's verdict makes of its entry in the post's "Sources" list.
AVAILABILITY: dict[str, str] = {
    Verdict.UNCHANGED: PostSource.Availability.AVAILABLE,
    Verdict.CHANGED: PostSource.Availability.AVAILABLE,
    Verdict.PASSAGE_GONE: PostSource.Availability.CHANGED,
    Verdict.GONE: PostSource.Availability.GONE,
    Verdict.MOVED: PostSource.Availability.MOVED,
}
# The page's text now is kept where a refresh may need it.
KEEP_TEXT = frozenset({Verdict.CHANGED, Verdict.PASSAGE_GONE, Verdict.MOVED})


class TakenOver(Exception):
    """Another attempt owns the verification now: this one writes nothing."""


def verification_claim(verification_id: int) -> datetime | None:
    """Mark the verification running for this attempt; its start time (the attempt's
    token), or None when it is done, failed, gone or running elsewhere (re-delivered)."""
    with transaction.atomic():
        verification = (
            PostVerification.objects.select_for_update().filter(pk=verification_id).first()
        )
        if verification is None:
            logger.warning("Verification %s is gone: nothing to do", verification_id)
            return None
        now = timezone.now()
        stale = verification.started_at and verification.started_at < now - STALE_RUNNING
        if verification.status == Status.QUEUED or (
            verification.status == Status.RUNNING and stale
        ):
            verification.status, verification.started_at = Status.RUNNING, now
            verification.save(update_fields=["status", "started_at"])
            return now
        logger.info("Verification %s is %s: not run again", verification_id, verification.status)
        return None


def _held(verification_id: int, started: datetime) -> PostVerification:
    verification = PostVerification.objects.select_for_update().get(pk=verification_id)
    if verification.status != Status.RUNNING or verification.started_at != started:
        raise TakenOver(f"Verification {verification_id} was taken over")
    return verification


@transaction.atomic
def verification_fail(verification_id: int, started: datetime, error: str) -> None:
    """The attempt failed: say why on its row (unless another attempt owns it)."""
    try:
        verification = _held(verification_id, started)
    except TakenOver:
        return
    verification.status, verification.finished_at = Status.FAILED, timezone.now()
    verification.error = error[:2000]
    verification.save(update_fields=["status", "finished_at", "error"])


@transaction.atomic
def verification_skip(verification_id: int, started: datetime, why: str) -> PostVerification:
    """Done without reading anything (the post is no longer published)."""
    verification = _held(verification_id, started)
    verification.status, verification.finished_at = Status.DONE, timezone.now()
    verification.summary = why[:300]
    verification.save(update_fields=["status", "finished_at", "summary"])
    return verification


def spend_record(verification_id: int, findings: Findings) -> None:
    """Book the judge's calls against the daily budget (their own transaction: money
    spent is spent, whatever happens to the verification)."""
    calls = findings.rechecked.ledger.calls
    if not calls:
        return
    spend_book(None, attempt=0, calls=calls, verification_id=verification_id)
    totals = findings.rechecked.ledger.totals()
    metrics.record_usage(
        prompt_tokens=totals["prompt_tokens"],
        completion_tokens=totals["completion_tokens"],
        cost_usd=float(totals["cost_usd"]),
    )


@transaction.atomic
def verification_finish(
    verification_id: int, started: datetime, plan: Plan, findings: Findings
) -> PostVerification:
    """Write everything the verification found, or nothing (TakenOver)."""
    verification = _held(verification_id, started)
    now = timezone.now()
    by_number = {cited.number: cited for cited in plan.cited}
    SourceCheck.objects.bulk_create(
        SourceCheck(
            verification=verification,
            number=r.number,
            url=r.url[:2000],
            verdict=r.verdict,
            http_status=r.http_status,
            moved_to=r.moved_to[:2000],
            from_cache=r.from_cache,
            old_hash=by_number[r.number].old_hash,
            new_hash=r.new_hash,
            new_text=r.new_text[:MAX_NEW_TEXT] if r.verdict in KEEP_TEXT else "",
            detail=r.detail[:300],
        )
        for r in findings.readings
    )
    ClaimCheck.objects.bulk_create(
        ClaimCheck(
            verification=verification,
            source_number=c.source_number,
            sentence=c.sentence,
            old_passage=c.old_passage,
            new_passage=c.new_passage,
            backed=c.backed,
            reason=c.reason[:300],
        )
        for c in findings.rechecked.claims
    )
    _sources_update(plan, findings, now)
    _post_update(plan.post, findings, now)
    _counters(verification, findings, now)
    transaction.on_commit(lambda: _count(findings))
    return verification


def _sources_update(plan: Plan, findings: Findings, now: datetime) -> None:
    readings = {reading.number: reading for reading in findings.readings}
    changed = []
    for source in plan.sources:
        if source.number in plan.backfill and not source.passage:
            source.passage = plan.backfill[source.number]
        reading = readings.get(source.number)
        if reading is not None and reading.verdict in AVAILABILITY:
            if reading.verdict == Verdict.MOVED:
                # A moved page whose cited passage is gone says so; else it moved.
                content = AVAILABILITY.get(reading.content, PostSource.Availability.AVAILABLE)
                moved = content == PostSource.Availability.AVAILABLE
                source.availability = PostSource.Availability.MOVED if moved else content
            else:
                source.availability = AVAILABILITY[reading.verdict]
            source.checked_at = now
            source.moved_to = reading.moved_to[:2000]
        changed.append(source)
    PostSource.objects.bulk_update(changed, ["passage", "availability", "checked_at", "moved_to"])


def _post_update(post: Post, findings: Findings, now: datetime) -> None:
    fields: dict[str, object] = {"last_verified_at": now}
    if findings.flagged:
        fields.update(needs_refresh=True, refresh_reason=findings.refresh_reason())
    # An update, not save(): the post's other fields may have been edited meanwhile.
    Post.objects.filter(pk=post.pk).update(**fields)


def _counters(verification: PostVerification, findings: Findings, now: datetime) -> None:
    readings, ledger = findings.readings, findings.rechecked.ledger.totals()
    verification.status, verification.finished_at = Status.DONE, now
    verification.outcome = (
        PostVerification.Outcome.FLAGGED if findings.flagged else PostVerification.Outcome.CLEAN
    )
    verification.summary = findings.summary()
    verification.fetches = sum(r.fetched for r in readings)
    verification.not_modified = sum(r.not_modified for r in readings)
    verification.cache_hits = sum(r.from_cache == "hit" for r in readings)
    verification.sources_unchanged = findings.count(Verdict.UNCHANGED)
    verification.sources_changed = findings.count(Verdict.CHANGED)
    verification.sources_passage_gone = findings.count(Verdict.PASSAGE_GONE)
    verification.sources_gone = findings.count(Verdict.GONE)
    verification.sources_moved = findings.count(Verdict.MOVED)
    verification.claims_checked = len(findings.rechecked.claims)
    verification.claims_failed = len(findings.failed_claims)
    verification.llm_calls = ledger["calls"]
    verification.prompt_tokens = ledger["prompt_tokens"]
    verification.completion_tokens = ledger["completion_tokens"]
    verification.cost_usd = Decimal(ledger["cost_usd"])
    verification.save()


def _count(findings: Findings) -> None:
    metrics.inc("posts_verified")
    if findings.flagged:
        metrics.inc("posts_flagged")
    if gone := len(findings.gone):
        metrics.inc("sources_dead", gone)
    if not_modified := sum(r.not_modified for r in findings.readings):
        metrics.inc("sources_not_modified", not_modified)
