"""The doors' calls: the periodic tick, the due list, queueing, verifying one post now.

`verification_tick` is what rq-scheduler runs (through scheduling/periodic.py); the
command `verify_posts` calls the others. Bad input is refused with InvalidRequest, in
one line, before anything is written. Like the enqueue half, this module loads nothing
of the engine until a post is verified in-process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from blog.models import Post
from generation.exceptions import InvalidRequest
from generation.freshness import due
from generation.models import PostVerification


@dataclass(frozen=True)
class DuePost:
    id: int
    title: str
    due_from: datetime  # last verified, or published when never verified
    days: float  # how long ago that was

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "due_from": self.due_from.isoformat(),
            "days": round(self.days, 1),
        }


def verification_tick() -> list[PostVerification]:
    """Periodic job: queue the oldest due posts (VERIFY_BATCH), one job each."""
    return due.verifications_queue_due()


def due_list(*, limit: int | None = None) -> list[DuePost]:
    """The due posts, oldest first, without queueing anything."""
    now = timezone.now()
    found = []
    for post in due.posts_due(now=now, limit=limit):
        since = post.last_verified_at or post.published_at or now
        found.append(DuePost(post.pk, post.title, since, (now - since).total_seconds() / 86400))
    return found


def queue_due(*, trigger: str = PostVerification.Trigger.COMMAND) -> list[PostVerification]:
    """Queue the due batch now, as the tick would."""
    return due.verifications_queue_due(trigger=trigger)


def verify_post_now(
    post_id: int, *, trigger: str = PostVerification.Trigger.COMMAND
) -> PostVerification:
    """Verify one published post now, in this process; the finished verification."""
    post = Post.objects.filter(pk=post_id).first()
    if post is None:
        raise InvalidRequest(f"No post with id {post_id}.")
    if post.status != Post.Status.PUBLISHED:
        raise InvalidRequest(f"Post {post_id} is not published ({post.status}): nothing to verify.")
    if not post.sources.exists():
        raise InvalidRequest(f"Post {post_id} lists no sources: nothing to verify.")
    created = due.verifications_create([post], trigger=trigger)
    if not created:
        active = PostVerification.objects.filter(post=post, status__in=due.ACTIVE).first()
        raise InvalidRequest(
            f"Post {post_id} already has verification {active.pk if active else '?'} "
            "queued or running."
        )
    # The engine (the research layer, the LLM client) loads on first use only: the doors
    # and the scheduler's tick import this module without it (tests/test_startup.py).
    from generation.freshness import record
    from generation.freshness.job import verification_run

    (verification,) = created
    started = record.verification_claim(verification.pk)
    if started is None:
        raise InvalidRequest(f"Verification {verification.pk} was taken by another process.")
    try:
        return verification_run(verification.pk, started)
    except Exception as exc:
        record.verification_fail(verification.pk, started, f"{type(exc).__name__}: {exc}")
        raise
