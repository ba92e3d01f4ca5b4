"""Who may ask for posts: generating is one right; publishing and writing under someone
else's name are the blog's two (`blog.permissions`).

Every door that makes runs (the "Generate posts" form, the generate actions, saving or
enabling a schedule, "Run now", retrying runs) asks `request_refusal`, and shows its one
line when the answer is not None. The rule is the same at every door: the generate
permission, then publishing, then the author.
"""

from __future__ import annotations

from typing import Any

from blog.permissions import author_choices, author_refusal, may_choose_author, publish_refusal

__all__ = [
    "GENERATE_PERMISSION",
    "author_choices",
    "author_refusal",
    "generate_refusal",
    "may_choose_author",
    "may_generate",
    "publish_refusal",
    "request_refusal",
]

GENERATE_PERMISSION = "generation.add_generationrun"


def may_generate(user: Any) -> bool:
    return bool(user.is_active and user.has_perm(GENERATE_PERMISSION))


def generate_refusal(user: Any) -> str | None:
    if may_generate(user):
        return None
    return f"You may not generate posts (permission {GENERATE_PERMISSION})."


def request_refusal(user: Any, *, publish: bool, author_id: int | None) -> str | None:
    """Why `user` may not make these runs (one line), or None when they may."""
    return (
        generate_refusal(user)
        or publish_refusal(user, publish=publish)
        or author_refusal(user, author_id=author_id)
    )
