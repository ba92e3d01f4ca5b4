"""Living posts on the public page: when the sources were last checked, a gone source
quoted from the passage we stored (escaped: it is web text), a moved source's new
address, and JSON-LD dateModified from an accepted refresh."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from blog.models import Post, PostSource
from tests.factories import make_post

pytestmark = pytest.mark.django_db

FETCHED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CHECKED = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
HOSTILE = 'Figures <script>alert(1)</script> & <img src=x onerror="alert(2)"> stood at 4.'


def _post() -> Post:
    post = make_post(
        "Living post",
        body="Intro [1] and [2] and [3].",
        sources=[
            {"number": n, "title": title, "url": url, "fetched_at": FETCHED}
            for n, title, url in (
                (1, "Gone page", "https://gone.test/a"),
                (2, "Moved page", "https://old.test/b"),
                (3, "Fine page", "https://fine.test/c"),
            )
        ],
    )
    sources = PostSource.objects.filter(post=post)
    sources.filter(number=1).update(availability="gone", passage=HOSTILE, checked_at=CHECKED)
    sources.filter(number=2).update(availability="moved", moved_to="https://new.test/b")
    sources.filter(number=3).update(availability="available", passage="Kept quiet.")
    Post.objects.filter(pk=post.pk).update(last_verified_at=CHECKED)
    return post


def _json_ld(page: str) -> dict:
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    return json.loads(block.group(1))


def test_readers_see_when_sources_were_checked_and_which_are_gone(client):
    page = client.get(_post().get_absolute_url()).content.decode()
    assert "Sources last checked on" in page and "20 November 2026" in page
    gone = page[page.index('id="source-1"') : page.index('id="source-2"')]
    assert "No longer available</strong> — quoted as fetched on" in gone
    assert "2 March 2026" in gone
    escaped = "Figures &lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img src=x"
    assert escaped in gone and "<script>alert(1)" not in page and "<img src=x" not in page
    moved = page[page.index('id="source-2"') : page.index('id="source-3"')]
    assert 'moved to <a href="https://new.test/b" rel="noopener nofollow">' in moved
    fine = page[page.index('id="source-3"') :]
    assert "No longer available" not in fine and "Kept quiet." not in fine


def test_a_moved_address_that_is_not_http_is_not_linked(client):
    post = _post()
    PostSource.objects.filter(post=post, number=2).update(moved_to="javascript:alert(3)")
    page = client.get(post.get_absolute_url()).content.decode()
    assert "javascript:alert(3)" not in page


def test_a_post_never_checked_says_nothing_of_it(client):
    post = make_post("Unchecked", sources=[{"number": 1, "title": "A", "url": "https://a.test/"}])
    page = client.get(post.get_absolute_url()).content.decode()
    assert "Sources last checked" not in page and "No longer available" not in page


def test_json_ld_date_modified_is_the_accepted_refresh(client):
    post = _post()
    page = client.get(post.get_absolute_url()).content.decode()
    before = _json_ld(page)["dateModified"]
    refreshed = datetime.now(UTC) + timedelta(days=3)
    Post.objects.filter(pk=post.pk).update(refreshed_at=refreshed)
    page = client.get(post.get_absolute_url()).content.decode()
    after = _json_ld(page)["dateModified"]
    assert after != before and after.startswith(refreshed.isoformat()[:19])
    assert f'content="{refreshed.replace(microsecond=0).isoformat()}"' in page  # og modified
