"""What the review screen shows of a post a re-read flagged ("needs refresh").

Read from the post's latest flagged verification (written by the verification job): each
claim that no longer holds with its sentence, the passage it cited and the page's text
now; each source that died, moved or lost its cited passage, with its status and the
passage the post stored when it was fetched. Everything here is text to escape: it came
from the web.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from blog.models import Post, PostSource
from generation.freshness.flags import flagged_verification
from generation.models import ClaimCheck, PostVerification, SourceCheck

# The verdicts that make a source evidence for a refresh.
LOST = (SourceCheck.Verdict.GONE, SourceCheck.Verdict.MOVED, SourceCheck.Verdict.PASSAGE_GONE)


@dataclass(frozen=True)
class FailedClaim:
    number: int
    title: str
    sentence: str
    old_passage: str
    new_passage: str
    reason: str


@dataclass(frozen=True)
class LostSource:
    number: int
    title: str
    url: str
    verdict: str  # the verdict's label: "Page gone", "Moved", "Cited passage gone"
    status: str  # "HTTP 404", "moved to https://…", the check's detail, or ""
    moved_to: str
    stored_passage: str
    fetched_at: Any


@dataclass(frozen=True)
class RefreshEvidence:
    verification: PostVerification
    reason: str
    claims: tuple[FailedClaim, ...]
    sources: tuple[LostSource, ...]


def refresh_evidence(post: Post) -> dict[str, Any]:
    """The review screen's "needs refresh" context: {} unless the post is flagged."""
    if not post.needs_refresh:
        return {}
    verification = flagged_verification(post)
    if verification is None:
        return {"refresh": None}
    listed = {s.number: s for s in PostSource.objects.filter(post=post)}
    claims = tuple(
        FailedClaim(
            number=check.source_number,
            title=_title(listed, check.source_number),
            sentence=check.sentence,
            old_passage=check.old_passage,
            new_passage=check.new_passage,
            reason=check.reason,
        )
        for check in ClaimCheck.objects.filter(verification=verification, backed=False)
    )
    sources = tuple(
        _lost(check, listed.get(check.number))
        for check in SourceCheck.objects.filter(verification=verification, verdict__in=LOST)
    )
    return {
        "refresh": RefreshEvidence(
            verification=verification,
            reason=post.refresh_reason or verification.summary,
            claims=claims,
            sources=sources,
        )
    }


def _title(listed: dict[int, PostSource], number: int) -> str:
    source = listed.get(number)
    return (source.title or source.url) if source else f"source {number}"


def _lost(check: SourceCheck, source: PostSource | None) -> LostSource:
    if check.verdict == SourceCheck.Verdict.MOVED and check.moved_to:
        status = f"moved to {check.moved_to}"
    elif check.http_status and check.http_status >= 300:  # an error says more than "200"
        status = f"HTTP {check.http_status}"
    else:
        status = check.detail  # the verdict says the rest
    return LostSource(
        number=check.number,
        title=(source.title if source else "") or check.url,
        url=check.url,
        verdict=check.get_verdict_display(),
        status=status,
        moved_to=check.moved_to,
        stored_passage=source.passage if source else "",
        fetched_at=source.fetched_at if source else None,
    )
