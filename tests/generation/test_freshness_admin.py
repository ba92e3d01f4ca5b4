"""Living posts in the admin: the read-only history of re-verifications, and the post
list's action that queues a re-read of the chosen posts now."""

from __future__ import annotations

import html

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from blog.models import Post
from generation import queues
from generation.models import PostVerification, SourceCheck
from tests.factories import make_post, make_user
from tests.freshness_factories import flag_post

pytestmark = pytest.mark.django_db

SOURCES = [{"number": 1, "title": "Bench page", "url": "https://bench.test/a"}]


def _reverify(client, posts: list[Post]):
    return client.post(
        reverse("admin:blog_post_changelist"),
        {"action": "reverify_sources", "_selected_action": [p.pk for p in posts]},
        follow=True,
    )


def test_the_history_shows_what_each_source_and_claim_came_to(admin_client):
    post = make_post("Serving throughput", body="Figures [1].", sources=SOURCES)
    verification = flag_post(
        post,
        sources=[
            {
                "number": 1,
                "url": "https://bench.test/a",
                "verdict": SourceCheck.Verdict.PASSAGE_GONE,
                "http_status": 200,
                "new_text": "The <script>page</script> now says 950 requests per second.",
            }
        ],
        claims=[{"source_number": 1, "sentence": "Figures [1].", "old_passage": "1,200 rps"}],
    )
    listing = admin_client.get(reverse("admin:generation_postverification_changelist"))
    assert listing.status_code == 200 and "Serving throughput" in listing.content.decode()
    page = admin_client.get(
        reverse("admin:generation_postverification_change", args=[verification.pk])
    ).content.decode()
    assert "Sources read again" in page and "Claims checked again" in page
    assert "Cited passage gone" in page and "1,200 rps" in page
    # The page's text is web content: shown escaped, never as markup.
    assert "&lt;script&gt;page&lt;/script&gt;" in page and "<script>page</script>" not in page
    # Read-only: nobody adds, edits or deletes a verification by hand.
    add = admin_client.get(reverse("admin:generation_postverification_add"))
    assert add.status_code == 403


def test_the_action_queues_published_posts_and_says_why_others_were_left_out(admin_client):
    published = make_post("Live", body="Figures [1].", sources=SOURCES)
    draft = make_post("Draft", status=Post.Status.DRAFT, sources=SOURCES)
    bare = make_post("No sources")
    busy = make_post("Busy", body="Figures [1].", sources=SOURCES)
    PostVerification.objects.create(post=busy)

    said = _reverify(admin_client, [published, draft, bare, busy]).content.decode()

    assert "1 post queued for re-verification." in said
    assert f"“Draft” (#{draft.pk}): not published (draft)" in html.unescape(said)
    assert f"“No sources” (#{bare.pk}): lists no sources" in html.unescape(said)
    assert f"“Busy” (#{busy.pk}): already queued or running" in html.unescape(said)
    (verification,) = PostVerification.objects.filter(post=published)
    assert verification.status == "queued" and verification.trigger == "editor"
    jobs = queues.get_queue("content").get_job_ids()
    assert jobs == [f"post-verification-{verification.pk}"]


def test_the_action_needs_its_permission(client):
    post = make_post("Live", body="Figures [1].", sources=SOURCES)
    editor = make_user(is_staff=True)
    editor.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_post", "change_post"])
    )
    client.force_login(editor)
    listing = client.get(reverse("admin:blog_post_changelist")).content.decode()
    assert "reverify_sources" not in listing
    _reverify(client, [post])
    assert not PostVerification.objects.exists()
    assert queues.get_queue("content").count == 0
