"""The editor's three answers to a post flagged "needs refresh", each recorded on the
verification that flagged it (`resolution`, `resolved_at`, `resolved_by`):

- propose a refresh: the affected sections rewritten from the fresh sources, queued on
  `content` (refused once today's budget is spent); the flag stays until the proposal
  is accepted (`refresh.refresh_accept`);
- still correct: the flag comes off, the post stays as it is;
- unpublish: the post goes back to draft and the flag comes off.

The doors check permissions (blog's review screen); each answer returns its one line.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import User
from django.db import transaction

from blog import services
from blog.models import Post
from generation.freshness.flags import (
    PROPOSED,
    STILL_CORRECT,
    UNPUBLISHED,
    RefreshRefused,
    flagged_verification,
    refresh_run,
    resolve,
)
from generation.models import PostVerification
from generation.operations.budget import budget_require


def refresh_propose(post: Post, *, editor: User) -> str:
    """Queue the refresh of the post's affected sections; a proposal will follow."""
    verification = _flagged(post)
    if verification is None:
        raise RefreshRefused("No verification flagged this post: nothing to refresh from.")
    budget_require()
    run = refresh_run(post)
    # The plan reads the run's outline and sources with the section redo's code, which
    # loads the pipeline: the web process does so on the first refresh, not at start-up.
    from generation.execution.section_redo import redo_inputs
    from generation.freshness import refresh

    refresh.refresh_plan(redo_inputs(run.pk), verification)  # refuses when nothing to do
    with transaction.atomic():
        resolve(verification, PROPOSED, editor=editor)
        refresh.refresh_enqueue(verification, editor_id=editor.pk)
    return (
        "Refresh queued: the affected sections, rewritten from the sources as they read now, "
        "will appear as a proposed revision; the live post stays up meanwhile."
    )


@transaction.atomic
def still_correct(post: Post, *, editor: User) -> str:
    verification = _flagged(post)
    services.post_refresh_clear(post)
    if verification is not None:
        resolve(verification, STILL_CORRECT, editor=editor)
    return "Marked still correct: the flag is off and the post stays as it is."


@transaction.atomic
def unpublish(post: Post, *, editor: User) -> str:
    verification = _flagged(post)
    services.posts_unpublish(Post.objects.filter(pk=post.pk))
    services.post_refresh_clear(post)
    if verification is not None:
        resolve(verification, UNPUBLISHED, editor=editor)
    return "Unpublished: the post is a draft again and readers no longer see it."


ANSWERS: dict[str, Callable[..., str]] = {
    "refresh": refresh_propose,
    "still_correct": still_correct,
    "unpublish": unpublish,
}


def _flagged(post: Post) -> PostVerification | None:
    if not post.needs_refresh:
        raise RefreshRefused("This post is not flagged as needing a refresh.")
    return flagged_verification(post)
