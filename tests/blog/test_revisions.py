"""Revisions: every change to title, excerpt or body is kept; diff any two; restore one."""

from __future__ import annotations

import pytest
from django.urls import reverse

from blog import services
from blog.models import Post, PostRevision
from tests.factories import make_post, make_user

pytestmark = pytest.mark.django_db


def _change(admin_client, post: Post, **fields) -> None:
    data = {
        "title": post.title,
        "slug": post.slug,
        "status": post.status,
        "author": post.author_id,
        "excerpt": post.excerpt,
        "body": post.body,
        "tags": "",
        "meta_description": "",
        "sources-TOTAL_FORMS": 0,
        "sources-INITIAL_FORMS": 0,
        **fields,
    }
    if post.published_at:
        data["published_at_0"] = post.published_at.strftime("%Y-%m-%d")
        data["published_at_1"] = post.published_at.strftime("%H:%M:%S")
    response = admin_client.post(reverse("admin:blog_post_change", args=[post.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]


def test_creation_and_each_admin_edit_keep_a_revision_with_author_and_origin(
    admin_client, admin_user
):
    post = make_post("First title", body="One.")
    (first,) = post.revisions.all()
    assert first.origin == PostRevision.Origin.EDITOR and first.body == "One."
    _change(admin_client, post, body="Two.")
    _change(admin_client, post, body="Two.")  # nothing changed: no new revision
    newest = post.revisions.first()
    assert post.revisions.count() == 2
    assert (newest.body, newest.author, newest.origin) == ("Two.", admin_user, "editor")


def test_the_diff_between_two_revisions_is_escaped(admin_client):
    post = make_post("Diffed", body="Safe line.\nKept line.")
    post.body = "Safe line.\n<script>alert(1)</script>\nKept line."
    services.post_update(post, editor=make_user())
    older, newer = post.revisions.order_by("created_at", "id")
    page = admin_client.get(
        reverse("admin:blog_post_revisions", args=[post.pk]), {"a": older.pk, "b": newer.pk}
    ).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    assert 'class="diff_add"' in page


def test_restoring_a_revision_makes_a_new_one(admin_client):
    post = make_post("Restorable", body="Original.")
    post.body = "A bad edit."
    services.post_update(post, editor=make_user())
    original = post.revisions.order_by("created_at", "id").first()
    admin_client.post(
        reverse("admin:blog_post_revisions", args=[post.pk]), {"restore": original.pk}
    )
    post.refresh_from_db()
    assert post.body == "Original."
    assert post.revisions.count() == 3
    assert post.revisions.first().note.startswith("Restored the revision of")


def test_editing_the_body_on_the_review_screen_keeps_a_revision(admin_client):
    post = make_post("Edited in review", body="Before.", status=Post.Status.IN_REVIEW)
    admin_client.post(
        reverse("admin:blog_post_review", args=[post.pk]), {"action": "edit", "body": "After."}
    )
    post.refresh_from_db()
    assert post.body == "After." and post.status == Post.Status.IN_REVIEW
    assert [r.body for r in post.revisions.all()] == ["After.", "Before."]
