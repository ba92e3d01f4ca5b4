"""Living posts: the rows a re-read of a post's sources writes (the verification engine's
PostVerification, SourceCheck and ClaimCheck, the post's flag and its sources' state),
made directly so the editor's and reader's side are tested without running a re-read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from django.utils import timezone

from blog.models import Post, PostSource
from generation.models import ClaimCheck, PostVerification, SourceCheck


def flag_post(
    post: Post,
    *,
    sources: Iterable[Mapping] = (),
    claims: Iterable[Mapping] = (),
    reason: str = "1 claim no longer holds; 1 source is gone",
    when: datetime | None = None,
) -> PostVerification:
    """A done verification that flagged `post`, with its source and claim checks; the post
    marked "needs refresh" and re-read at `when`, each checked source's availability set
    as the engine sets it (gone, moved, changed)."""
    when = when or timezone.now()
    verification = PostVerification.objects.create(
        post=post,
        status=PostVerification.Status.DONE,
        outcome=PostVerification.Outcome.FLAGGED,
        started_at=when,
        finished_at=when,
        summary=reason[:300],
    )
    checks = [SourceCheck(verification=verification, **source) for source in sources]
    SourceCheck.objects.bulk_create(checks)
    ClaimCheck.objects.bulk_create(
        ClaimCheck(verification=verification, backed=False, **claim) for claim in claims
    )
    availability = {
        SourceCheck.Verdict.GONE: PostSource.Availability.GONE,
        SourceCheck.Verdict.MOVED: PostSource.Availability.MOVED,
        SourceCheck.Verdict.PASSAGE_GONE: PostSource.Availability.CHANGED,
        SourceCheck.Verdict.CHANGED: PostSource.Availability.AVAILABLE,
        SourceCheck.Verdict.UNCHANGED: PostSource.Availability.AVAILABLE,
    }
    for check in checks:
        PostSource.objects.filter(post=post, number=check.number).update(
            availability=availability.get(check.verdict, ""),
            checked_at=when,
            moved_to=check.moved_to,
        )
    Post.objects.filter(pk=post.pk).update(
        needs_refresh=True, refresh_reason=reason, last_verified_at=when
    )
    post.refresh_from_db()
    return verification
