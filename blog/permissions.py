"""Who may publish, and who may write under someone else's name (the blog's own
permissions `publish_post` and `choose_author`).

Every door that makes or edits posts asks these; generation's doors add their own right
to generate (`generation.admin.permissions`) on top. An empty author means
GENERATION_DEFAULT_AUTHOR, someone else, so it needs `choose_author` too.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

PUBLISH_PERMISSION = "blog.publish_post"
CHOOSE_AUTHOR_PERMISSION = "blog.choose_author"


def may_publish(user: Any) -> bool:
    return bool(user.is_active and user.has_perm(PUBLISH_PERMISSION))


def may_choose_author(user: Any) -> bool:
    return bool(user.is_active and user.has_perm(CHOOSE_AUTHOR_PERMISSION))


def publish_refusal(user: Any, *, publish: bool) -> str | None:
    if publish and not may_publish(user):
        return (
            "You may not publish posts (permission blog.publish_post): "
            "leave “Publish” off to save drafts."
        )
    return None


def author_refusal(user: Any, *, author_id: int | None) -> str | None:
    """None when the posts are the user's own or the user may choose another author.

    `author_id` None is the configured default author: another person."""
    if (author_id is not None and author_id == user.pk) or may_choose_author(user):
        return None
    if author_id is None:
        return (
            "You may not leave the author empty (GENERATION_DEFAULT_AUTHOR writes as "
            "someone else; permission blog.choose_author): choose yourself."
        )
    return (
        "You may not choose another author (permission blog.choose_author): "
        "the posts can only be yours."
    )


def author_choices(user: Any) -> QuerySet:
    """The authors `user` may pick: every active staff member with `choose_author`, else
    only themselves."""
    staff = get_user_model().objects.filter(is_staff=True, is_active=True)
    return staff if may_choose_author(user) else staff.filter(pk=user.pk)
