"""Publishing a run's post: the last step of the pipeline, as one service.

One transaction creates the post (in review, or published when asked and not held), its
"Sources" list and the link to its run, and finishes the run (`lifecycle.run_succeeded`),
after checking that this execution still holds the run: a stale or duplicate execution
fails here and rolls back, so a run can never make a second post.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.db import transaction

from blog import services as blog_services
from blog.links import LinkPolicy, strip_links
from blog.models import Post, PostRevision
from generation.models import GenerationRun, ResearchSource, Stage
from generation.pipeline import store
from generation.pipeline.evidence.passages import cited_passages
from generation.pipeline.types import Metadata
from generation.runs import lifecycle
from generation.runs.leases import Lease
from generation.runs.titles import is_near_duplicate

# Serialises the last step of publishing across workers (PostgreSQL), so two runs of
# one batch finishing together cannot both take the same title.
PUBLISH_LOCK_KEY = 0x5EED_B10C
# The hold reason of a post whose door did not ask to publish it.
NOT_ASKED_TO_PUBLISH = "publishing was not asked for"


@dataclass(frozen=True)
class PostDraft:
    """Everything the post is made of, from the run's checkpoints."""

    title: str
    body: str
    cited: tuple[int, ...]  # the run's source numbers, in the body's order [1]..[k]
    metadata: Metadata
    held: str = ""  # why the citation report holds it as a draft, if it does


@transaction.atomic
def post_publish_run(lease: Lease, run: GenerationRun, draft: PostDraft, **run_fields: Any) -> Post:
    """Create the run's post and finish the run, in one transaction; `run_fields` (its
    timings and usage) are written with the run's success."""
    store.advisory_lock(PUBLISH_LOCK_KEY)
    lifecycle.run_hold(lease)
    title = draft.title
    if is_near_duplicate(title, store.titles_to_avoid()):
        title = f"{title} (part {run.batch_index + 1})"[:200]
    rows = store.sources_cited(run, draft.cited)
    sources = _sources(run, rows, draft.cited)
    # The citations stage stripped foreign links already; this guards what is saved.
    policy = LinkPolicy.for_sources((s.number, s.url) for s in sources)
    body, _ = strip_links(draft.body, policy=policy)
    sources = _with_passages(sources, body, rows, draft.cited)
    post = blog_services.post_create(
        title=title,
        body=body,
        author=run.author,
        status=Post.Status.PUBLISHED if run.publish and not draft.held else Post.Status.IN_REVIEW,
        hold_reason=draft.held or ("" if run.publish else NOT_ASKED_TO_PUBLISH),
        origin=PostRevision.Origin.PIPELINE,
        generated=True,
        category=blog_services.category_get_or_create(draft.metadata.category),
        tags=blog_services.tags_normalize(draft.metadata.tags),
        excerpt=draft.metadata.excerpt,
        meta_description=draft.metadata.meta_description,
        sources=sources,
    )
    store.sources_mark_cited(run, draft.cited)
    lifecycle.run_succeeded(lease, post=post, stage=Stage.PUBLISH, **run_fields)
    return post


def _with_passages(
    sources: list[blog_services.SourceRow],
    body: str,
    rows: dict[int, ResearchSource],
    cited: tuple[int, ...],
) -> list[blog_services.SourceRow]:
    """Each source with the passages the body cites from it (living posts re-check them,
    and readers see them once a page is gone)."""
    texts = {new: rows[old].text for new, old in enumerate(cited, start=1) if old in rows}
    found = cited_passages(body, texts, threshold=settings.GENERATION_CITATION_THRESHOLD)
    return [replace(source, passage=found.get(source.number, "")) for source in sources]


def _sources(
    run: GenerationRun, rows: dict[int, ResearchSource], cited: tuple[int, ...]
) -> list[blog_services.SourceRow]:
    """The post's numbered sources: [1] is the first the body cites."""
    return [
        blog_services.SourceRow(
            number=new,
            title=rows[old].title or rows[old].url,
            url=rows[old].url,
            domain=rows[old].domain,
            # Research is the run's first long stage: the day it started is the day read.
            fetched_at=run.started_at,
        )
        for new, old in enumerate(cited, start=1)
        if old in rows
    ]
