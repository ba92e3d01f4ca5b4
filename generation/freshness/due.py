"""Which published posts are due for re-verification, and queueing them.

A post is due once its last verification (or its publication, when never verified) is
older than VERIFY_AFTER_DAYS; the oldest go first, at most VERIFY_BATCH a tick, and a post
whose verification is already queued or running is left to it. The PostVerification rows
are created in one transaction holding the posts' rows (two ticks at once queue a post
once); one RQ job per row is pushed on `content` after the commit, its only argument the
verification id.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Queue

from blog.models import Post
from blog.selectors import posts_due_for_verification
from generation import queues
from generation.exceptions import QueueUnavailable
from generation.models import PostVerification

logger = logging.getLogger(__name__)

JOB = "generation.freshness.job.verify_post_job"
QUEUE = "content"
JOB_TIMEOUT = 600  # seconds one verification may take (fetches wait for host slots)
# A verification queued this long ago whose job never ran (Redis lost it), or running this
# long (its worker died), is failed, so its post becomes due again.
STALE_QUEUED = timedelta(days=1)
STALE_RUNNING = timedelta(seconds=2 * JOB_TIMEOUT)
ACTIVE = (PostVerification.Status.QUEUED, PostVerification.Status.RUNNING)


def due_before(now: datetime | None = None) -> datetime:
    """Posts last verified (or published) before this are due."""
    return (now or timezone.now()) - timedelta(days=settings.VERIFY_AFTER_DAYS)


def posts_due(*, now: datetime | None = None, limit: int | None = None) -> list[Post]:
    """Due posts without a verification queued or running, oldest first."""
    active = PostVerification.objects.filter(status__in=ACTIVE).values("post_id")
    found = posts_due_for_verification(due_before(now)).exclude(pk__in=active)
    return list(found[:limit] if limit else found)


def verifications_release_stale(*, now: datetime | None = None) -> int:
    """Fail verifications whose job was lost or whose worker died; returns how many."""
    now = now or timezone.now()
    lost = PostVerification.objects.filter(
        status=PostVerification.Status.QUEUED, queued_at__lt=now - STALE_QUEUED
    ).update(status=PostVerification.Status.FAILED, finished_at=now, error="its job never ran")
    died = PostVerification.objects.filter(
        status=PostVerification.Status.RUNNING, started_at__lt=now - STALE_RUNNING
    ).update(
        status=PostVerification.Status.FAILED,
        finished_at=now,
        error=f"still running after {int(STALE_RUNNING.total_seconds())} s: its worker died",
    )
    return lost + died


def verifications_create(
    posts: list[Post], *, trigger: str = PostVerification.Trigger.SCHEDULE
) -> list[PostVerification]:
    """One queued verification per post that has none queued or running, in one
    transaction (serialised on the posts' rows, so concurrent callers never queue a post
    twice)."""
    with transaction.atomic():
        # The posts' rows, locked in one order: a concurrent caller waits, then sees ours.
        list(Post.objects.select_for_update().filter(pk__in=[p.pk for p in posts]).order_by("pk"))
        active = set(
            PostVerification.objects.filter(post__in=posts, status__in=ACTIVE).values_list(
                "post_id", flat=True
            )
        )
        return PostVerification.objects.bulk_create(
            PostVerification(post=post, trigger=trigger) for post in posts if post.pk not in active
        )


def verifications_push(verifications: list[PostVerification]) -> None:
    """One job per verification on `content`, in one round trip (after the commit). When
    Redis is down the rows are failed, saying so, and QueueUnavailable is raised."""
    if not verifications:
        return
    queue = queues.get_queue(QUEUE)
    jobs = [
        Queue.prepare_data(
            JOB,
            args=(verification.pk,),
            job_id=f"post-verification-{verification.pk}",
            timeout=JOB_TIMEOUT,
            result_ttl=86_400,
            failure_ttl=30 * 86_400,
            description=f"verify_post(post_id={verification.post_id})",
        )
        for verification in verifications
    ]
    try:
        queue.enqueue_many(jobs)
    except (RedisError, OSError) as exc:
        message = f"Redis is unreachable at {queues.redis_url_display()} ({exc})"
        PostVerification.objects.filter(pk__in=[v.pk for v in verifications]).update(
            status=PostVerification.Status.FAILED, finished_at=timezone.now(), error=message
        )
        raise QueueUnavailable(f"{message}; no verification was queued.") from exc


def verifications_queue_due(
    *, now: datetime | None = None, trigger: str = PostVerification.Trigger.SCHEDULE
) -> list[PostVerification]:
    """The tick: release stale verifications, queue the oldest due posts (VERIFY_BATCH)."""
    released = verifications_release_stale(now=now)
    if released:
        logger.warning("%s verification(s) lost their job or worker: failed", released)
    created = verifications_create(posts_due(now=now, limit=settings.VERIFY_BATCH), trigger=trigger)
    verifications_push(created)
    if created:
        logger.info("Queued %s post verification(s)", len(created))
    return created
