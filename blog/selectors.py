"""Reads for the blog: every list query loads authors, categories and tags up front.

Pages built on these querysets run a fixed number of SQL queries however many posts
they show (tests/blog/test_query_counts.py holds them to that).
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone
from taggit.models import Tag

from blog.models import Category, Post, PostSource


def _published_q(prefix: str = "") -> Q:
    # A published post with a future date is scheduled: hidden until then.
    return Q(
        **{f"{prefix}status": Post.Status.PUBLISHED, f"{prefix}published_at__lte": timezone.now()}
    )


def post_list_published() -> QuerySet[Post]:
    """Published posts, newest first, with author, category and tags loaded."""
    return (
        Post.objects.filter(_published_q())
        .select_related("author", "category")
        .prefetch_related("tags")  # type: ignore[misc]  # taggit has no stubs: the plugin cannot see the relation
        .order_by("-published_at", "-id")
    )


def posts_in_category(category: Category) -> QuerySet[Post]:
    """Published posts in one category, newest first."""
    return post_list_published().filter(category=category)


def posts_with_tag(tag: Tag) -> QuerySet[Post]:
    """Published posts carrying one tag, newest first."""
    return post_list_published().filter(tags__id=tag.id)


def category_list_with_counts() -> QuerySet[Category]:
    """Categories that have published posts, each annotated with `num_posts`."""
    return (
        Category.objects.annotate(num_posts=Count("posts", filter=_published_q("posts__")))
        .filter(num_posts__gt=0)
        .order_by("name")
    )


def post_get_for_view(slug: str, user: AbstractBaseUser | AnonymousUser) -> Post:
    """The post at `slug` for this reader; raises Http404 when they may not see it.

    Staff see drafts and scheduled posts (the page shows a preview banner); everyone
    else sees only what is published.
    """
    posts = Post.objects.select_related("author", "category", "reviewed_by").prefetch_related(
        "tags",  # type: ignore[misc]  # taggit has no stubs: the plugin cannot see the relation
        "sources",
    )
    if not getattr(user, "is_staff", False):
        posts = posts.filter(_published_q())
    try:
        return posts.get(slug=slug)
    except Post.DoesNotExist:
        raise Http404("No post found at this address.") from None


def post_is_public(post: Post) -> bool:
    """Whether anonymous readers can see the post now (published and not scheduled)."""
    return (
        post.is_published and post.published_at is not None and post.published_at <= timezone.now()
    )


def posts_awaiting_review() -> QuerySet[Post]:
    """Posts in review, oldest first (the queue's order)."""
    return (
        Post.objects.filter(status=Post.Status.IN_REVIEW)
        .select_related("author")
        .order_by("created_at", "id")
    )


def posts_due_for_verification(before: datetime) -> QuerySet[Post]:
    """Published posts with sources whose sources were last re-read (or, never re-read,
    which were published) before `before`, oldest first; `due_from` is that time."""
    return (
        Post.objects.filter(status=Post.Status.PUBLISHED, published_at__isnull=False)
        .filter(Exists(PostSource.objects.filter(post=OuterRef("pk"))))
        .annotate(due_from=Coalesce("last_verified_at", "published_at"))
        .filter(due_from__lt=before)
        .order_by("due_from", "id")
    )
