"""Who may ask for posts: generating is one right; publishing and writing under someone
else's name are the blog's two (`blog.permissions`).

Every door that takes a request for posts (the "Generate posts" form, the generate
actions, schedules and their actions, retrying runs) asks `request_refusal`, and shows its
one line when the answer is not None.
"""

from __future__ import annotations

from typing import Any

from blog.permissions import author_refusal, publish_refusal

__all__ = ["GENERATE_PERMISSION", "publish_refusal", "request_refusal"]

GENERATE_PERMISSION = "generation.add_generationrun"


def request_refusal(user: Any, *, publish: bool, author_id: int | None) -> str | None:
    """Why `user` may not ask for these posts (one line), or None when they may."""
    return publish_refusal(user, publish=publish) or author_refusal(user, author_id=author_id)
