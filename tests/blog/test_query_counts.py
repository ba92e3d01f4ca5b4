"""Listing pages run the same number of SQL queries for 5 posts as for 50."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from blog.models import Post
from tests.factories import make_category, make_post, make_posts, make_user

pytestmark = pytest.mark.django_db


def _add_posts(count: int, category, author) -> list[Post]:
    posts = make_posts(count, author=author, categories=[category])
    for post in posts:
        post.tags.add("shared")
    return posts


def _get_counting(client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries), response.content.decode()


@pytest.mark.parametrize(
    "url_name",
    ["home", "category", "tag", "feed", "sitemap"],
)
def test_listing_pages_run_a_fixed_number_of_queries(client, settings, url_name):
    settings.POSTS_PER_PAGE = 100  # every post on one page, so an N+1 would show
    category = make_category("Databases")
    author = make_user("alice")
    urls = {
        "home": reverse("blog:home"),
        "category": reverse("blog:category", args=[category.slug]),
        "tag": reverse("blog:tag", args=["shared"]),
        "feed": reverse("blog:feed"),
        "sitemap": reverse("blog:sitemap"),
    }
    first = _add_posts(5, category, author)
    few, few_html = _get_counting(client, urls[url_name])
    more = first + _add_posts(45, category, author)
    many, many_html = _get_counting(client, urls[url_name])

    assert few == many, f"{url_name}: {few} queries for 5 posts, {many} for 50"
    newest_first = sorted(more, key=lambda post: post.published_at, reverse=True)
    shown = newest_first[:20] if url_name == "feed" else newest_first  # the feed has 20
    for post in shown:
        assert post.get_absolute_url() in many_html
    for post in first:
        assert post.get_absolute_url() in few_html


def test_post_page_queries_do_not_grow_with_tags_and_sources(client):
    author = make_user()
    sources = [{"number": n, "title": f"S{n}", "url": f"https://ex.org/{n}"} for n in range(1, 4)]
    one = make_post("Few things", author=author, tags=["a"], sources=sources[:1])
    many = make_post(
        "Many things",
        author=author,
        tags=[f"t{i}" for i in range(8)],
        sources=[*sources, {"number": 9, "title": "S9", "url": "https://ex.org/9"}],
    )
    few_count, _ = _get_counting(client, one.get_absolute_url())
    many_count, html = _get_counting(client, many.get_absolute_url())
    assert few_count == many_count
    assert 'id="source-9"' in html
