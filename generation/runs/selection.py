"""Posts asked for from an admin selection: in each selected category, or following up
each selected post. One request per item, all through `service.enqueue_posts`, in one
transaction: a refused item leaves no runs for the others.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from blog.models import Category, Post
from generation.exceptions import InvalidRequest
from generation.models import GenerationRun, Origin
from generation.runs.service import enqueue_posts

TOPIC_MAX = 300


def followup_topic(post: Post) -> str:
    """A topic that continues `post`: its title, and its tags as the ground to cover."""
    tags = sorted(post.tags.names(), key=str.lower)[:3]
    topic = f'Follow-up to "{post.title}"'
    if tags:
        topic += f", going further into {', '.join(tags)}"
    return topic[:TOPIC_MAX]


def category_topic(category: Category) -> str:
    """Posts in a category are about the category: its name is their topic."""
    return category.name[:TOPIC_MAX]


def posts_enqueue_in_categories(
    *, categories: Sequence[Category], count: int, publish: bool, author: AbstractBaseUser
) -> list[GenerationRun]:
    """`count` posts in each category, on the category's subject."""
    items = [(category_topic(c), c.name) for c in categories]
    return _enqueue_each(items, count=count, publish=publish, author=author)


def posts_enqueue_followups(
    *, posts: Sequence[Post], count: int, publish: bool, author: AbstractBaseUser
) -> list[GenerationRun]:
    """`count` follow-ups of each post, in the post's category."""
    items = [(followup_topic(p), p.category.name if p.category else "") for p in posts]
    return _enqueue_each(items, count=count, publish=publish, author=author)


def _enqueue_each(
    items: list[tuple[str, str]], *, count: int, publish: bool, author: AbstractBaseUser
) -> list[GenerationRun]:
    limit = settings.GENERATION_MAX_BATCH
    if not items:
        raise InvalidRequest("Nothing selected.")
    if count * len(items) > limit:
        raise InvalidRequest(
            f"That is {count * len(items)} posts ({count} for each of {len(items)} selected); "
            f"at most {limit} (GENERATION_MAX_BATCH) per request."
        )
    runs: list[GenerationRun] = []
    with transaction.atomic():
        for topic, category in items:
            runs += enqueue_posts(
                count=count,
                topic=topic,
                category=category,
                publish=publish,
                author=author,
                origin=Origin.ADMIN,
            )
    return runs
