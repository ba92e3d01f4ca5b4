"""The Nu validator reads the review screen and the revisions page of a generated post,
and a generated post's public page (disclosure, JSON-LD, read dates); once a re-read
flagged it, the review screen's "needs refresh" panel and the public page's freshness
marks (last checked, a gone source quoted, a moved one's new address)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from blog import services as blog_services
from generation.execution import service
from tests.reliability.test_clients import _vnu_messages

pytestmark = [pytest.mark.reliability, pytest.mark.django_db]


def test_review_pages_are_valid_html(standins, author, admin_client, admin_user, tmp_path):
    (run,) = service.generate_posts(count=1, topic="LLM optimization", author=author)
    post = run.post
    post.body += "\n\nAn editor's closing line."
    blog_services.post_update(post, editor=admin_user)
    pages = {
        "review": reverse("admin:blog_post_review", args=[post.pk]),
        "revisions": reverse("admin:blog_post_revisions", args=[post.pk]),
    }
    files = []
    for name, url in pages.items():
        response = admin_client.get(url)
        assert response.status_code == 200
        files.append(tmp_path / f"{name}.html")
        files[-1].write_bytes(response.content)
    blog_services.post_approve(post, reviewer=admin_user)
    _flag(post)
    flagged = tmp_path / "review-needs-refresh.html"
    flagged.write_bytes(admin_client.get(pages["review"]).content)
    assert b"needs refresh" in flagged.read_bytes()
    files.append(flagged)
    public = tmp_path / "generated-post.html"
    public.write_bytes(admin_client.get(post.get_absolute_url()).content)
    files.append(public)
    assert b"No longer available" in public.read_bytes()
    errors = _vnu_messages(files)
    assert [f"{Path(m['url']).name}:{m.get('lastLine')}: {m['message']}" for m in errors] == []


def _flag(post) -> None:
    """A re-read found source 1 gone (its stored passage quoted), source 2 moved and a
    claim on it failed."""
    from tests.freshness_factories import flag_post

    first, second = list(post.sources.all())[:2]
    post.sources.filter(pk=first.pk).update(passage="What the page said, as fetched.")
    flag_post(
        post,
        sources=[
            {"number": 1, "url": first.url, "verdict": "gone", "http_status": 404},
            {
                "number": 2,
                "url": second.url,
                "verdict": "moved",
                "http_status": 301,
                "moved_to": "https://example.org/new-home",
                "new_text": "The page as it reads at its new address.",
            },
        ],
        claims=[
            {
                "source_number": 2,
                "sentence": "A sentence the page no longer backs [2].",
                "old_passage": "What it cited.",
                "new_passage": "What it says now.",
            }
        ],
    )
