"""The doors' calls: the periodic tick, the due list, queueing, verifying one post now.

`verification_tick` is what rq-scheduler runs (through scheduling/periodic.py); the
command `verify_posts` calls the others. Bad input is refused with InvalidRequest, in
one line, before anything is written. Like the enqueue half, this module loads nothing
of the engine until a post is verified in-process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone
from django.utils.text import Truncator

from blog.models import Post
from generation.exceptions import InvalidRequest
from generation.freshness import due
from generation.models import PostVerification

TITLE_CHARS = 60  # of a post's title, naming it in a message


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


@dataclass(frozen=True)
class Queued:
    """What asking to re-read chosen posts came to: queued, and left out with why."""

    verifications: list[PostVerification]
    left_out: dict[int, str]  # post id -> why it was not queued
    titles: dict[int, str] = field(default_factory=dict)  # post id -> its title, if any

    def message(self) -> str:
        queued = len(self.verifications)
        said = f"{queued} post{'' if queued == 1 else 's'} queued for re-verification."
        if self.left_out:
            reasons = "; ".join(
                f"{self._name(pk)}: {why}" for pk, why in sorted(self.left_out.items())
            )
            said += f" Left out: {reasons}."
        return said

    def _name(self, pk: int) -> str:
        title = self.titles.get(pk)
        return f"“{Truncator(title).chars(TITLE_CHARS)}” (#{pk})" if title else f"#{pk}"


def queue_posts(post_ids: list[int], *, trigger: str = PostVerification.Trigger.EDITOR) -> Queued:
    """Queue a verification of each chosen post now, whatever its due time: one job each
    on `content`. Drafts, posts without sources and posts already being verified are left
    out, each with its reason; Redis down raises QueueUnavailable (the rows are failed)."""
    posts = {
        post.pk: post for post in Post.objects.filter(pk__in=post_ids).prefetch_related("sources")
    }
    left_out: dict[int, str] = {}
    for pk in post_ids:
        post = posts.get(pk)
        if post is None:
            left_out[pk] = "no such post"
        elif post.status != Post.Status.PUBLISHED:
            left_out[pk] = f"not published ({post.get_status_display().lower()})"
        elif not post.sources.all():
            left_out[pk] = "lists no sources"
    chosen = [post for pk, post in posts.items() if pk not in left_out]
    created = due.verifications_create(chosen, trigger=trigger)
    queued = {v.post_id for v in created}
    left_out.update({p.pk: "already queued or running" for p in chosen if p.pk not in queued})
    due.verifications_push(created)
    return Queued(created, left_out, {pk: post.title for pk, post in posts.items()})


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
