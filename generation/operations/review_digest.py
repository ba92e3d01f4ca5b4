"""The reviewers' digest: one mail listing the posts awaiting review, at most one per
REVIEW_DIGEST_MINUTES, sent from the `email` queue to every user with blog.review_post.

A post entering review asks for a digest (`review_digest_enqueue`): the job goes out now
when no digest went out within the window, else once the window ends; one pending job at
a time (a Redis key), so a batch of twelve posts makes one mail, not twelve.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import cast

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.urls import reverse
from redis.exceptions import RedisError

from blog.review import REVIEW_PERMISSION
from blog.selectors import posts_awaiting_review
from generation import queues
from generation.operations.notifications import EMAIL_QUEUE, MAIL_RETRY

logger = logging.getLogger(__name__)

SENT_KEY = "drb:review-digest:sent"  # lives for the window after a digest went out
PENDING_KEY = "drb:review-digest:pending"  # a digest job is queued or scheduled
JOB = "generation.operations.review_digest.send_review_digest"


def _window() -> int:
    return settings.REVIEW_DIGEST_MINUTES * 60


def review_digest_enqueue() -> None:
    """Ask for a digest: now, or when the current window ends; never two pending."""
    queue = queues.get_queue(EMAIL_QUEUE)
    redis = queue.connection
    try:
        wait = max(int(cast(int, redis.ttl(SENT_KEY))), 0)
        if not redis.set(PENDING_KEY, "1", nx=True, ex=wait + _window()):
            return  # one is already on its way and will list this post too
        if wait:
            queue.enqueue_in(timedelta(seconds=wait), JOB, retry=MAIL_RETRY, result_ttl=3600)
        else:
            queue.enqueue(JOB, retry=MAIL_RETRY, result_ttl=3600)
    except (RedisError, OSError) as exc:  # the post is in review; a lost digest is logged
        logger.warning("Review digest not queued: %s", exc)


def reviewers() -> list[str]:
    """The addresses of active users who may review (superusers included)."""
    users = get_user_model().objects.with_perm(REVIEW_PERMISSION).filter(is_active=True)
    return sorted({user.email for user in users if user.email})


def send_review_digest() -> int:
    """Job: mail the posts awaiting review to every reviewer; returns how many posts it
    listed (0: nothing sent — nothing waits, nobody to tell, or a digest went out within
    the window)."""
    redis = queues.get_queue(EMAIL_QUEUE).connection
    redis.delete(PENDING_KEY)
    posts = list(posts_awaiting_review())
    to = reviewers()
    if not posts or not to or not redis.set(SENT_KEY, "1", nx=True, ex=_window()):
        return 0
    lines = [f"{len(posts)} post(s) await review:", ""]
    for post in posts:
        url = settings.SITE_URL + reverse("admin:blog_post_review", args=[post.pk])
        lines += [f"- {post.title}", f"  held: {post.hold_reason or 'no hold'}", f"  {url}", ""]
    subject = f"{len(posts)} post(s) awaiting review"
    send_mail(subject, "\n".join(lines), None, to)
    return len(posts)
