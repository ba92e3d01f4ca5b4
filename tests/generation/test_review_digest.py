"""The reviewers' digest: one mail per REVIEW_DIGEST_MINUTES through the `email` queue."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from rq import SimpleWorker

from blog.models import Post
from generation import queues
from generation.operations import review_digest
from tests.factories import make_post, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def reviewers(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.REVIEW_DIGEST_MINUTES = 60
    mail.outbox.clear()
    reviewer = make_user("rev", email="rev@example.com")
    reviewer.user_permissions.add(Permission.objects.get(codename="review_post"))
    make_user("boss", email="boss@example.com", is_superuser=True)
    make_user("writer", email="writer@example.com")  # may not review: not told
    return settings


def _in_review(title: str, reason: str) -> Post:
    post = make_post(title, status=Post.Status.IN_REVIEW)
    Post.objects.filter(pk=post.pk).update(hold_reason=reason)
    return post


def _deliver() -> list:
    queue = queues.get_queue("email")
    sent_before = len(mail.outbox)
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    return mail.outbox[sent_before:]


def test_posts_entering_review_make_one_digest_to_the_reviewers(reviewers):
    posts = [_in_review(f"Post {i}", f"reason {i}") for i in range(3)]
    for _ in posts:
        review_digest.review_digest_enqueue()
    assert queues.get_queue("email").count == 1
    (message,) = _deliver()
    assert message.to == ["boss@example.com", "rev@example.com"]
    assert message.subject == "3 post(s) awaiting review"
    for post in posts:
        assert post.title in message.body and post.hold_reason in message.body
        assert f"/admin/blog/post/{post.pk}/review/" in message.body


def test_within_the_window_the_next_digest_waits_for_its_end(reviewers):
    _in_review("First", "publishing was not asked for")
    review_digest.review_digest_enqueue()
    assert len(_deliver()) == 1
    _in_review("Second", "publishing was not asked for")
    review_digest.review_digest_enqueue()
    review_digest.review_digest_enqueue()
    queue = queues.get_queue("email")
    assert queue.count == 0 and queue.scheduled_job_registry.count == 1
    # Even run early (a retry, an operator), it sends nothing inside the window.
    assert review_digest.send_review_digest() == 0
    assert len(mail.outbox) == 1


def test_no_mail_when_nothing_awaits_review(reviewers):
    make_post("Live")
    review_digest.review_digest_enqueue()
    assert _deliver() == []
