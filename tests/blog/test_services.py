"""blog.services: slugs, tags, reading time, sources, publishing, transactions."""

from __future__ import annotations

import pytest
from django.db import transaction
from taggit.models import Tag

from blog import services
from blog.models import Category, Post
from tests.factories import make_post, make_user

pytestmark = pytest.mark.django_db


def test_slugs_are_unique_with_numbered_suffixes():
    slugs = [make_post("Hello, World!").slug for _ in range(3)]
    assert slugs == ["hello-world", "hello-world-2", "hello-world-3"]


def test_unique_slug_handles_unsluggable_and_long_titles():
    assert services.unique_slug("!!!") == "post"
    long_slug = services.unique_slug("word " * 100)
    assert len(long_slug) <= Post._meta.get_field("slug").max_length - 6
    Category.objects.create(name="Go", slug="go")
    assert services.unique_slug("Go", model=Category) == "go-2"


def test_tags_are_reused_case_insensitively():
    first = make_post("One", tags=["Python", "Web"])
    second = make_post("Two", tags=["python", "WEB", "new tag"])
    assert Tag.objects.count() == 3
    assert sorted(t.name for t in second.tags.all()) == ["Python", "Web", "new tag"]
    assert first.tags.get(name="Python") == second.tags.get(name="Python")


def test_tags_normalize_trims_dedupes_and_caps_at_eight():
    Tag.objects.create(name="Django", slug="django")
    names = ["  django ", "DJANGO", "", "a  b", *[f"t{i}" for i in range(10)]]
    assert services.tags_normalize(names) == ["Django", "a b", "t0", "t1", "t2", "t3", "t4", "t5"]


def test_reading_time_is_words_over_220_rounded_up_and_at_least_one():
    assert services.reading_time("") == 1
    assert services.reading_time("word " * 220) == 1
    assert services.reading_time("word " * 221) == 2
    assert make_post("Long", body="word " * 1000).reading_time == 5


def test_post_create_saves_sources_and_dates_published_posts():
    post = make_post(
        "Sourced",
        sources=[
            {"number": 2, "title": "B", "url": "https://b.example/x"},
            {"number": 1, "title": "A", "url": "https://a.example/y", "domain": "a.example"},
        ],
    )
    rows = list(post.sources.values_list("number", "title", "domain"))
    assert rows == [(1, "A", "a.example"), (2, "B", "b.example")]
    assert post.published_at is not None
    assert make_post("Draft", status=Post.Status.DRAFT).published_at is None


def test_post_create_rejects_bad_input_with_a_clear_error():
    author = make_user()
    with pytest.raises(ValueError, match="title must not be empty"):
        services.post_create(title="  ", body="x", author=author)
    with pytest.raises(ValueError, match="Unknown post status"):
        services.post_create(title="T", body="x", author=author, status="live")


def test_post_create_composes_with_the_callers_transaction():
    author = make_user()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.post_create(title="Rolled back", body="x", author=author, tags=["gone"])
        raise RuntimeError("the caller fails after creating the post")
    assert not Post.objects.filter(title="Rolled back").exists()
    assert not Tag.objects.filter(name="gone").exists()


def test_publish_and_unpublish_keep_the_first_publication_date():
    post = make_post("Draft", status=Post.Status.DRAFT)
    only = Post.objects.filter(pk=post.pk)
    services.posts_publish(only)
    post.refresh_from_db()
    first_date = post.published_at
    assert post.status == Post.Status.PUBLISHED and first_date is not None
    services.posts_unpublish(only)
    services.posts_publish(only)
    post.refresh_from_db()
    assert post.published_at == first_date


def test_bulk_publish_and_unpublish_change_only_what_needs_changing():
    drafts = [make_post(f"Draft {i}", status=Post.Status.DRAFT) for i in range(3)]
    live = make_post("Live")
    assert services.posts_publish(Post.objects.all()) == 3
    assert Post.objects.filter(status=Post.Status.PUBLISHED).count() == 4
    assert all(p.published_at for p in Post.objects.filter(pk__in=[d.pk for d in drafts]))
    assert services.posts_unpublish(Post.objects.filter(pk=live.pk)) == 1
    assert Post.objects.get(pk=live.pk).status == Post.Status.DRAFT


def test_category_get_or_create_matches_case_insensitively():
    first = services.category_get_or_create("Machine Learning")
    assert services.category_get_or_create("machine  learning") == first
    assert first.slug == "machine-learning"
    with pytest.raises(ValueError):
        services.category_get_or_create("  ")
