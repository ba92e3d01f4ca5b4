"""Plain functions that make test data through the real services."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from blog import services
from blog.models import Category, Post

_counter = itertools.count(1)


def make_user(username: str = "", *, is_staff: bool = False, **extra):
    """A user with a usable password ("pw-for-tests-1"); unique username when not given."""
    username = username or f"user{next(_counter)}"
    return get_user_model().objects.create_user(
        username=username, password="pw-for-tests-1", is_staff=is_staff, **extra
    )


def make_category(name: str = "", *, description: str = "") -> Category:
    name = name or f"Category {next(_counter)}"
    return Category.objects.create(
        name=name, slug=services.unique_slug(name, model=Category), description=description
    )


def make_post(
    title: str = "",
    *,
    body: str = "Some **body** text about the topic.",
    author=None,
    status: str = Post.Status.PUBLISHED,
    category: Category | None = None,
    tags: Iterable[str] = (),
    excerpt: str = "An excerpt.",
    sources: Iterable[Mapping] = (),
    published_at: datetime | None = None,
) -> Post:
    """A post made by blog.services.post_create; published by default."""
    return services.post_create(
        title=title or f"Post number {next(_counter)}",
        body=body,
        author=author or make_user(),
        status=status,
        category=category,
        tags=tags,
        excerpt=excerpt,
        sources=sources,
        published_at=published_at,
    )


def make_posts(count: int, *, author=None, categories=(), **kwargs) -> list[Post]:
    """`count` published posts, one minute apart (newest last), cycling categories, 2 tags each."""
    author = author or make_user()
    cycle = itertools.cycle(categories or [None])
    start = timezone.now() - timedelta(minutes=count + 1)
    return [
        make_post(
            f"Generated post {i}",
            author=author,
            category=next(cycle),
            tags=[f"tag-{i}", f"topic-{i % 3}"],
            published_at=start + timedelta(minutes=i),
            **kwargs,
        )
        for i in range(count)
    ]


def make_schedule(name: str = "", *, effective_from: datetime | None = None, **fields):
    """An enabled schedule saved through generation.scheduling.service (due times count from
    `effective_from`, default now); 1 draft post daily at 09:00 UTC unless told."""
    from generation.models import GenerationSchedule
    from generation.scheduling.service import schedule_save

    values = {"cron": "0 9 * * *", "timezone": "UTC", "count": 1, "enabled": True, **fields}
    schedule = GenerationSchedule(name=name or f"schedule-{next(_counter)}", **values)
    schedule.full_clean()
    return schedule_save(schedule=schedule, now=effective_from)
