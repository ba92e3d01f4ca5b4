"""Who may ask for what: generating is one right, publishing and writing under someone
else's name are two more (the blog's `publish_post` and `choose_author`).

Every door that takes a request for posts (the "Generate posts" form, the generate
actions, schedules and their actions, retrying runs) asks `request_refusal`, and shows its
one line when the answer is not None.
"""

from __future__ import annotations

from typing import Any

GENERATE_PERMISSION = "generation.add_generationrun"
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


def request_refusal(user: Any, *, publish: bool, author_id: int | None) -> str | None:
    """Why `user` may not ask for these posts (one line), or None when they may."""
    return publish_refusal(user, publish=publish) or author_refusal(user, author_id=author_id)
