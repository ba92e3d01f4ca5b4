"""The post and category admin: changelist, filters, bulk actions, editing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from blog.models import Post
from tests.factories import make_category, make_post, make_posts

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:blog_post_changelist"


def test_changelist_loads_with_search_and_filters(admin_client):
    category = make_category("Systems")
    match = make_post("Kernel scheduling", category=category, tags=["Linux"])
    make_post("Gardening", status=Post.Status.DRAFT)
    tag = match.tags.get()
    url = reverse(CHANGELIST)
    response = admin_client.get(url, {"q": "kernel"})
    assert response.status_code == 200
    assert "Kernel scheduling" in response.content.decode()
    assert "Gardening" not in response.content.decode()
    filters = {
        "status__exact": "published",
        "category__id__exact": category.pk,
        "tags__id__exact": tag.pk,
        "author__id__exact": match.author_id,
        "published_at__year": match.published_at.year,
    }
    response = admin_client.get(url, filters)
    assert response.status_code == 200
    assert "Kernel scheduling" in response.content.decode()


def test_changelist_queries_do_not_grow_with_posts(admin_client, django_assert_max_num_queries):
    make_posts(3, categories=[make_category()])
    admin_client.get(reverse(CHANGELIST))
    with django_assert_max_num_queries(40) as few:
        admin_client.get(reverse(CHANGELIST))
    make_posts(30, categories=[make_category()])
    with django_assert_max_num_queries(40) as many:
        admin_client.get(reverse(CHANGELIST))
    assert len(few.captured_queries) == len(many.captured_queries)


def _run_action(admin_client, action: str, posts: list[Post]):
    return admin_client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [p.pk for p in posts]},
        follow=True,
    )


def test_bulk_publish_action_publishes_selected_drafts(admin_client):
    drafts = [make_post(f"Draft {i}", status=Post.Status.DRAFT) for i in range(2)]
    untouched = make_post("Other draft", status=Post.Status.DRAFT)
    response = _run_action(admin_client, "publish_selected", drafts)
    assert "Published 2 post(s)." in response.content.decode()
    assert set(Post.objects.filter(status="published").values_list("pk", flat=True)) == {
        d.pk for d in drafts
    }
    assert Post.objects.get(pk=untouched.pk).status == Post.Status.DRAFT


def test_bulk_unpublish_action_returns_posts_to_draft(admin_client, client):
    posts = [make_post(f"Live {i}") for i in range(2)]
    response = _run_action(admin_client, "unpublish_selected", posts)
    assert "Unpublished 2 post(s)." in response.content.decode()
    assert not Post.objects.filter(status="published").exists()
    assert client.get(posts[0].get_absolute_url()).status_code == 404


def test_change_form_saves_through_the_service(admin_client):
    post = make_post("Editable", status=Post.Status.DRAFT, body="short")
    url = reverse("admin:blog_post_change", args=[post.pk])
    assert admin_client.get(url).status_code == 200
    data = {
        "title": "Editable",
        "slug": post.slug,
        "status": "published",
        "published_at_0": "",
        "published_at_1": "",
        "author": post.author_id,
        "category": "",
        "excerpt": "",
        "body": "word " * 500,
        "tags": "Alpha, Beta",
        "meta_description": "",
        "sources-TOTAL_FORMS": "1",
        "sources-INITIAL_FORMS": "0",
        "sources-MIN_NUM_FORMS": "0",
        "sources-MAX_NUM_FORMS": "1000",
        "sources-0-number": "1",
        "sources-0-title": "A source",
        "sources-0-url": "https://example.org/a",
        "sources-0-domain": "example.org",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    post.refresh_from_db()
    assert post.reading_time == 3
    assert post.published_at is not None
    assert sorted(t.name for t in post.tags.all()) == ["Alpha", "Beta"]
    assert post.sources.get().title == "A source"


def test_category_admin_shows_post_counts(admin_client):
    category = make_category("Counted")
    make_post("One", category=category)
    make_post("Two", category=category, status=Post.Status.DRAFT)
    response = admin_client.get(reverse("admin:blog_category_changelist"), {"o": "3"})
    assert response.status_code == 200
    assert '<td class="field-post_count">2</td>' in response.content.decode()
