"""The Nu validator reads the review screen and the revisions page of a generated post,
and a generated post's public page (disclosure, JSON-LD, read dates)."""

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
    public = tmp_path / "generated-post.html"
    public.write_bytes(admin_client.get(post.get_absolute_url()).content)
    files.append(public)
    errors = _vnu_messages(files)
    assert [f"{Path(m['url']).name}:{m.get('lastLine')}: {m['message']}" for m in errors] == []
