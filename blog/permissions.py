"""Who may publish, and who may write under someone else's name (the blog's own
permissions `publish_post` and `choose_author`).

Every door that makes or edits posts asks these; generation's doors add their own right
to generate (`generation.admin.permissions`) on top.
"""

from __future__ import annotations

from typing import Any

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
    """None when the posts are the user's own (or the configured default's, author_id
    None) or the user may choose another author."""
    if author_id is None or author_id == user.pk or may_choose_author(user):
        return None
    return (
        "You may not choose another author (permission blog.choose_author): "
        "the posts can only be yours."
    )
