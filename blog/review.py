"""Who may review posts, and the groups of hold reasons the post list filters by."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

REVIEW_PERMISSION = "blog.review_post"

# (key, label, the posts it selects): hold reasons are sentences with figures in them,
# so the list filters by what kind of hold it was.
HOLD_KINDS: tuple[tuple[str, str, Q], ...] = (
    (
        "removed_share",
        "Too many claims removed",
        Q(hold_reason__contains="GENERATION_MAX_REMOVED_SHARE"),
    ),
    ("unbacked", "No claim backed", Q(hold_reason__startswith="no claim")),
    ("not_asked", "Publishing not asked for", Q(hold_reason="publishing was not asked for")),
    ("none", "No hold", Q(hold_reason="")),
)


def may_review(user: Any) -> bool:
    return bool(user.is_active and user.has_perm(REVIEW_PERMISSION))
