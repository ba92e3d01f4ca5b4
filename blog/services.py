"""Writes for the blog: creating, publishing and unpublishing posts.

Every function composes with a caller's transaction (the generation pipeline wraps
post_create in its own), so nothing here commits on its own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth.models import User
from django.db import IntegrityError, models, transaction
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.text import slugify
from taggit.models import Tag

from blog.models import Category, Post, PostRevision, PostSource

WORDS_PER_MINUTE = 220
MAX_TAGS = 8
SLUG_ATTEMPTS = 5
_WORD_RE = re.compile(r"\w+")


def reading_time(text: str) -> int:
    """Minutes to read `text` at ~220 words a minute, at least one."""
    return max(1, math.ceil(len(_WORD_RE.findall(text or "")) / WORDS_PER_MINUTE))


def unique_slug(title: str, model: type[models.Model] = Post, field: str = "slug") -> str:
    """A slug for `title` not yet used in `model`: `title`, then `title-2`, `title-3`..."""
    max_length = getattr(model._meta.get_field(field), "max_length", None) or 50
    base = slugify(title)[: max_length - 6].strip("-") or "post"
    taken = set(
        model._default_manager.filter(**{f"{field}__startswith": base}).values_list(
            field, flat=True
        )
    )
    if base not in taken:
        return base
    suffix = 2
    while f"{base}-{suffix}" in taken:
        suffix += 1
    return f"{base}-{suffix}"


def tags_normalize(names: Iterable[str]) -> list[str]:
    """Clean tag names: trimmed, de-duplicated case-insensitively, at most 8.

    A name matching an existing tag in any case comes back spelled as that tag, so
    "python" and "Python" never become two tags.
    """
    wanted: dict[str, str] = {}
    for raw in names:
        name = " ".join(str(raw).split())[:100]
        if name and name.lower() not in wanted:
            wanted[name.lower()] = name
        if len(wanted) == MAX_TAGS:
            break
    if not wanted:
        return []
    query = Q()
    for name in wanted.values():
        query |= Q(name__iexact=name)
    existing: dict[str, str] = {}
    for tag in Tag.objects.filter(query).order_by("id"):
        existing.setdefault(tag.name.lower(), tag.name)  # the oldest spelling wins
    return [existing.get(key, name) for key, name in wanted.items()]


def category_get_or_create(name: str) -> Category:
    """The category called `name` (any case), created with a unique slug if missing."""
    name = " ".join(name.split())[:100]
    if not name:
        raise ValueError("Category name must not be empty.")
    existing = Category.objects.filter(name__iexact=name).first()
    if existing:
        return existing
    return Category.objects.create(name=name, slug=unique_slug(name, model=Category))


@dataclass(frozen=True)
class SourceRow:
    """One numbered source of a post, as post_create takes it (generation builds these;
    a mapping with the same keys is accepted too). Empty title or domain: from the URL."""

    number: int
    url: str
    title: str = ""
    domain: str = ""
    fetched_at: datetime | None = None  # when research read the page
    passage: str = ""  # what the post cites from it, as fetched (kept for living posts)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SourceRow:
        return cls(
            number=int(data["number"]),
            url=str(data.get("url") or ""),
            title=str(data.get("title") or ""),
            domain=str(data.get("domain") or ""),
            fetched_at=data.get("fetched_at"),
            passage=str(data.get("passage") or ""),
        )


def _source_rows(post: Post, sources: Iterable[SourceRow | Mapping[str, Any]]) -> list[PostSource]:
    rows = []
    for given in sources:
        source = given if isinstance(given, SourceRow) else SourceRow.from_mapping(given)
        # Stored as given (a local research folder yields file:// URLs); the page links
        # only http(s) ones, so a hostile scheme here is shown as text, never followed.
        url = source.url.strip()
        host = urlsplit(url).hostname or ""
        rows.append(
            PostSource(
                post=post,
                number=source.number,
                title=(source.title or host or url)[:300],
                url=url[:2000],
                domain=(source.domain or host)[:255],
                fetched_at=source.fetched_at,
                passage=source.passage,
            )
        )
    return rows


def _save_with_unique_slug(post: Post) -> None:
    """Insert the post, choosing another slug if a concurrent writer took this one."""
    for _attempt in range(SLUG_ATTEMPTS):
        post.slug = unique_slug(post.title)
        try:
            with transaction.atomic():  # a savepoint, so a clash leaves the outer one usable
                post.save()
            return
        except IntegrityError:
            if not Post.objects.filter(slug=post.slug).exists():
                raise
    raise IntegrityError(f"Could not find a free slug for {post.title!r}.")


@transaction.atomic
def post_create(
    *,
    title: str,
    body: str,
    author: User,
    status: str = Post.Status.DRAFT,
    category: Category | None = None,
    tags: Iterable[str] = (),
    excerpt: str = "",
    meta_description: str = "",
    sources: Iterable[SourceRow | Mapping[str, Any]] = (),
    published_at: datetime | None = None,
    hold_reason: str = "",
    origin: str = PostRevision.Origin.EDITOR,
    generated: bool = False,
) -> Post:
    """Create a post with a unique slug, its reading time, tags, numbered sources and its
    first revision (`origin`: who wrote it)."""
    title = " ".join((title or "").split())
    if not title:
        raise ValueError("Post title must not be empty.")
    if status not in Post.Status.values:
        raise ValueError(f"Unknown post status {status!r}; use one of {Post.Status.values}.")
    if status == Post.Status.PUBLISHED and published_at is None:
        published_at = timezone.now()
    post = Post(
        title=title[:200],
        body=body,
        author=author,
        status=status,
        category=category,
        excerpt=excerpt,
        meta_description=meta_description[:160],
        reading_time=reading_time(body),
        published_at=published_at,
        hold_reason=hold_reason,
        generated=generated,
    )
    _save_with_unique_slug(post)
    revision_record(post, author=author, origin=origin)
    tag_names = tags_normalize(tags)
    if tag_names:
        post.tags.set(tag_names)
    PostSource.objects.bulk_create(_source_rows(post, sources))
    return post


@transaction.atomic
def post_update(
    post: Post,
    *,
    editor: User | None = None,
    origin: str = PostRevision.Origin.EDITOR,
    note: str = "",
    always: bool = False,
) -> Post:
    """Save an edited post, refreshing reading time and dating a first publication; a
    change to its title, excerpt or body keeps a revision (`always`: even without one)."""
    post.reading_time = reading_time(post.body)
    if post.status == Post.Status.PUBLISHED and post.published_at is None:
        post.published_at = timezone.now()
    post.save()
    revision_record(post, author=editor, origin=origin, note=note, always=always)
    return post


def revision_record(
    post: Post,
    *,
    author: User | None,
    origin: str,
    note: str = "",
    always: bool = False,
) -> PostRevision | None:
    """Keep the post's title, excerpt and body as a revision, unless the latest already
    holds exactly them (and not `always`); returns the new revision, or None."""
    latest = post.revisions.filter(proposed=False).order_by("-created_at", "-id").first()
    content = {"title": post.title, "excerpt": post.excerpt, "body": post.body}
    unchanged = latest and all(getattr(latest, n) == value for n, value in content.items())
    if unchanged and not always:
        return None
    return PostRevision.objects.create(
        post=post, author=author, origin=origin, note=note, **content
    )


@transaction.atomic
def revision_propose(
    post: Post, *, body: str, editor_id: int, origin: str, note: str, replace: bool = False
) -> PostRevision:
    """A proposed revision of `post` with a new body, waiting off the post for an editor
    to accept or discard it; `replace` discards the earlier proposals of that origin."""
    if replace:
        post.revisions.filter(proposed=True, origin=origin).delete()
    return PostRevision.objects.create(
        post=post,
        title=post.title,
        excerpt=post.excerpt,
        body=body,
        author=User.objects.filter(pk=editor_id).first(),
        origin=origin,
        note=note[:300],
        proposed=True,
    )


@transaction.atomic
def revision_restore(revision: PostRevision, *, editor: User) -> Post:
    """Put a revision's title, excerpt and body back on its post (a new revision)."""
    post = revision.post
    post.title, post.excerpt, post.body = revision.title, revision.excerpt, revision.body
    when = revision.created_at.strftime("%Y-%m-%d %H:%M")
    return post_update(post, editor=editor, note=f"Restored the revision of {when}")


@transaction.atomic
def post_approve(post: Post, *, reviewer: User) -> Post:
    """Publish a post in review (or a draft) as approved by `reviewer`."""
    if post.status == Post.Status.PUBLISHED:
        raise ValueError("This post is already published.")
    now = timezone.now()
    post.status = Post.Status.PUBLISHED
    post.published_at = post.published_at or now
    post.reviewed_by, post.reviewed_at = reviewer, now
    post.rejected_reason = ""
    post.save(
        update_fields=[
            "status",
            "published_at",
            "reviewed_by",
            "reviewed_at",
            "rejected_reason",
            "updated_at",
        ]
    )
    return post


@transaction.atomic
def post_reject(post: Post, *, reviewer: User, reason: str) -> Post:
    """Send a post in review back to draft, keeping the reviewer's reason on it."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValueError("Say why the post is rejected.")
    if post.status == Post.Status.PUBLISHED:
        raise ValueError("A published post cannot be rejected; unpublish it first.")
    post.status = Post.Status.DRAFT
    post.rejected_reason = reason[:2000]
    post.reviewed_by, post.reviewed_at = reviewer, timezone.now()
    post.save(
        update_fields=["status", "rejected_reason", "reviewed_by", "reviewed_at", "updated_at"]
    )
    return post


def posts_publish(queryset: QuerySet[Post]) -> int:
    """Publish every draft in `queryset`; returns how many changed."""
    now = timezone.now()
    return Post.objects.filter(pk__in=queryset.values("pk"), status=Post.Status.DRAFT).update(
        status=Post.Status.PUBLISHED,
        published_at=Coalesce(F("published_at"), Value(now)),
        updated_at=now,
    )


def posts_unpublish(queryset: QuerySet[Post]) -> int:
    """Turn every published post in `queryset` back into a draft; returns how many changed."""
    return Post.objects.filter(pk__in=queryset.values("pk"), status=Post.Status.PUBLISHED).update(
        status=Post.Status.DRAFT, updated_at=timezone.now()
    )


@transaction.atomic
def revision_accept(revision: PostRevision, *, editor: User) -> Post:
    """Put a proposed revision's content on its post (kept as a new revision)."""
    if not revision.proposed:
        raise ValueError("Only a proposed revision can be accepted.")
    post = revision.post
    post.title, post.excerpt, post.body = revision.title, revision.excerpt, revision.body
    if revision.origin == PostRevision.Origin.REFRESH:  # a living post brought up to date
        post.refreshed_at, post.needs_refresh = timezone.now(), False
    # Kept even when the rewrite came out the same: the history shows it was accepted.
    note = f"Accepted: {revision.note}"[:300]
    post_update(post, editor=editor, origin=revision.origin, note=note, always=True)
    revision.delete()
    return post


@dataclass(frozen=True)
class SourceReread:
    """A cited source as a refresh read it again: the passage the post cites now, when
    it was read, and whether it is still there (PostSource.Availability)."""

    number: int
    passage: str
    fetched_at: datetime
    availability: str


def sources_reread(post: Post, rows: Iterable[SourceReread]) -> int:
    """Store what a refresh read on the post's sources; returns how many changed."""
    changed = 0
    for row in rows:
        changed += PostSource.objects.filter(post=post, number=row.number).update(
            passage=row.passage,
            fetched_at=row.fetched_at,
            checked_at=row.fetched_at,
            availability=row.availability,
        )
    return changed


def post_refresh_clear(post: Post) -> Post:
    """Take the "needs refresh" flag off a post (an editor found it still correct)."""
    post.needs_refresh = False
    Post.objects.filter(pk=post.pk).update(needs_refresh=False)
    return post
