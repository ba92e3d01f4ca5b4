"""The review screen's hooks for living posts (plugged into blog's post admin by
`actions.blog_admins_extend`): the "needs refresh" evidence beside the run's, the
editor's three answers, and accepting a proposed refresh."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User

from blog import services
from blog.models import Post, PostRevision
from generation.admin.evidence import post_evidence
from generation.exceptions import GenerationError
from generation.freshness import answers
from generation.freshness.evidence import refresh_evidence


def review_evidence(post: Post) -> dict[str, Any]:
    return {**post_evidence(post), **refresh_evidence(post)}


def refresh_answer(*, post: Post, answer: str, editor: User) -> str:
    """One answer to the flag; a refusal (budget spent, nothing to refresh) in one line."""
    try:
        return answers.ANSWERS[answer](post, editor=editor)
    except GenerationError as refusal:
        raise ValueError(str(refusal)) from refusal


def revision_accept(revision: PostRevision, *, editor: User) -> Post:
    if revision.origin == PostRevision.Origin.REFRESH:
        from generation.freshness import refresh  # loads the pipeline: on first use

        return refresh.refresh_accept(revision, editor=editor)
    return services.revision_accept(revision, editor=editor)
