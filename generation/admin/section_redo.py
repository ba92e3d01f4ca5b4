"""The door that queues the rewrite of one section of a post (the review screen's
"Regenerate" button); the job is `generation.execution.section_redo`."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from blog.models import Post
from generation import queues
from generation.exceptions import SectionRedoError
from generation.models import GenerationRun, Stage
from generation.pipeline import checkpoints

JOB = "generation.execution.section_redo.section_redo_job"


def section_redo_enqueue(*, post: Post, index: int, editor_id: int) -> None:
    """Queue the rewrite of section `index` (0-based) after the transaction commits."""
    run = GenerationRun.objects.filter(post=post).first()
    if run is None or Stage.OUTLINE not in run.checkpoints:
        raise SectionRedoError("No generation run with an outline made this post.")
    sections_count = len(checkpoints.read(run.checkpoints, Stage.OUTLINE).sections)
    if not 0 <= index < sections_count:
        raise SectionRedoError(f"The outline has no section {index + 1}.")
    transaction.on_commit(
        lambda: queues.get_queue("content").enqueue(
            JOB, run.pk, index, editor_id, job_timeout=settings.GENERATION_JOB_TIMEOUT
        )
    )
