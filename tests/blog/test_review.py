"""Editorial review: the queue, hold reasons, approve and reject behind blog.review_post."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from blog.models import Post
from tests.factories import make_post, make_user

pytestmark = pytest.mark.django_db

HELD = "5 of 12 claims (42%) were removed, more than GENERATION_MAX_REMOVED_SHARE=0.25"


def _staff(*codenames: str):
    user = make_user(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def _held_post() -> Post:
    post = make_post("Held for claims", status=Post.Status.IN_REVIEW)
    post.hold_reason = HELD
    post.save(update_fields=["hold_reason"])
    return post


def test_a_held_post_is_in_the_review_queue_with_its_reason(admin_client):
    post = _held_post()
    make_post("Not asked to publish", status=Post.Status.IN_REVIEW)
    make_post("Already live")
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert "2 posts awaiting review" in index
    queue = admin_client.get(
        reverse("admin:blog_post_changelist"), {"status__exact": "review", "hold": "removed_share"}
    ).content.decode()
    assert "Held for claims" in queue and HELD in queue
    assert "Not asked to publish" not in queue and "Already live" not in queue
    screen = admin_client.get(reverse("admin:blog_post_review", args=[post.pk])).content.decode()
    assert HELD in screen and "Approve and publish" in screen


def test_a_user_without_review_post_cannot_approve_or_reject(client):
    post = _held_post()
    editor = _staff("view_post", "change_post", "publish_post")
    client.force_login(editor)
    url = reverse("admin:blog_post_review", args=[post.pk])
    assert "Approve and publish" not in client.get(url).content.decode()
    assert client.post(url, {"action": "approve"}).status_code == 403
    assert client.post(url, {"action": "reject", "reason": "no"}).status_code == 403
    post.refresh_from_db()
    assert post.status == Post.Status.IN_REVIEW and post.reviewed_by is None


def test_approving_needs_publish_post_too(client):
    post = _held_post()
    client.force_login(_staff("view_post", "change_post", "review_post"))
    url = reverse("admin:blog_post_review", args=[post.pk])
    assert client.post(url, {"action": "approve"}).status_code == 403
    assert Post.objects.get(pk=post.pk).status == Post.Status.IN_REVIEW


def test_a_reviewer_approves_and_the_post_is_published_with_who_and_when(client):
    post = _held_post()
    reviewer = _staff("view_post", "change_post", "review_post", "publish_post")
    client.force_login(reviewer)
    client.post(reverse("admin:blog_post_review", args=[post.pk]), {"action": "approve"})
    post.refresh_from_db()
    assert post.status == Post.Status.PUBLISHED and post.published_at is not None
    assert post.reviewed_by == reviewer and post.reviewed_at is not None


def test_rejecting_keeps_the_reason_and_needs_one(client):
    post = _held_post()
    client.force_login(_staff("view_post", "change_post", "review_post"))
    url = reverse("admin:blog_post_review", args=[post.pk])
    client.post(url, {"action": "reject", "reason": "   "})
    assert Post.objects.get(pk=post.pk).status == Post.Status.IN_REVIEW
    client.post(url, {"action": "reject", "reason": "Section 2 misreads its source."})
    post.refresh_from_db()
    assert post.status == Post.Status.DRAFT
    assert post.rejected_reason == "Section 2 misreads its source."
