"""A flagged post's verification and the editor's answer on it: the light reads and
writes the web process needs (no pipeline, no LLM client: those load with the job)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.utils import timezone

from blog.models import Post
from generation.exceptions import GenerationError
from generation.models import GenerationRun, PostVerification, Stage

# PostVerification.resolution: the editor's answer to the flag (and an accepted refresh).
PROPOSED, STILL_CORRECT, UNPUBLISHED = "refresh_proposed", "still_correct", "unpublished"
REFRESHED = "refreshed"


class RefreshRefused(GenerationError, ValueError):
    """A refresh that cannot be made, in one line (not flagged, no run, nothing affected)."""


def flagged_verification(post: Post) -> PostVerification | None:
    """The post's latest verification that flagged it (where the editor's answer goes)."""
    return (
        PostVerification.objects.filter(post=post, outcome=PostVerification.Outcome.FLAGGED)
        .order_by("-queued_at", "-id")
        .first()
    )


def resolve(verification: PostVerification, resolution: str, *, editor: User) -> None:
    """Record the editor's answer on the verification that flagged the post."""
    verification.resolution = resolution
    verification.resolved_at = timezone.now()
    verification.resolved_by = editor
    verification.save(update_fields=["resolution", "resolved_at", "resolved_by"])


def refresh_run(post: Post) -> GenerationRun:
    """The run that made the post, with an outline to rewrite from."""
    run = GenerationRun.objects.filter(post=post).first()
    if run is None or Stage.OUTLINE not in run.checkpoints:
        raise RefreshRefused(
            "No generation run with an outline made this post: edit it by hand, mark it "
            "still correct, or unpublish it."
        )
    return run
