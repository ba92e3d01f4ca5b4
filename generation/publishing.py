"""The pipeline's database side: what the stages need to know, and the final publish.

Reads (existing titles, angles, tags) and writes (sources, the post) live here so the
stage modules stay free of the ORM.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone
from taggit.models import Tag

from blog import services as blog_services
from blog.links import LinkPolicy, strip_links
from blog.models import Category, Post
from generation.exceptions import RunNotClaimable
from generation.models import GenerationRun, ResearchSource, RunStatus
from generation.pipeline.topic import is_near_duplicate
from generation.research import SourceDoc
from generation.runs import Lease

# Serialises the last step of publishing across workers (PostgreSQL), so two runs of
# one batch finishing together cannot both take the same title.
PUBLISH_LOCK_KEY = 0x5EED_B10C


def titles_to_avoid(limit: int = 200) -> list[str]:
    return list(Post.objects.order_by("-created_at").values_list("title", flat=True)[:limit])


def vocabulary() -> tuple[list[str], list[str]]:
    """Existing tag and category names, for the metadata draft to reuse."""
    tags = list(Tag.objects.order_by("name").values_list("name", flat=True)[:200])
    return tags, list(Category.objects.values_list("name", flat=True))


def distinct_title(title: str, *, angle: str, run: GenerationRun) -> str:
    """The outline's title, or one made distinct from existing and sibling titles."""
    siblings = GenerationRun.objects.filter(topic__iexact=run.topic).exclude(pk=run.pk)
    others = [
        *titles_to_avoid(),
        *[t for t in siblings.values_list("checkpoints__outline__title", flat=True) if t],
    ]
    if not is_near_duplicate(title, others):
        return title
    with_angle = f"{title}: {angle}"[:190]
    if angle and not is_near_duplicate(with_angle, others):
        return with_angle
    return f"{title} (part {run.batch_index + 1})"[:200]


@transaction.atomic
def sources_save(run: GenerationRun, docs: list[SourceDoc]) -> int:
    """Replace the run's research sources; kept ones are numbered 1..k by relevance."""
    ResearchSource.objects.filter(run=run).delete()
    kept = sorted((d for d in docs if d.status == "kept"), key=lambda d: -d.relevance)
    numbers = {id(doc): index for index, doc in enumerate(kept, start=1)}
    ResearchSource.objects.bulk_create(
        [
            ResearchSource(
                run=run,
                number=numbers.get(id(doc)),
                url=doc.url[:2000],
                title=doc.title[:300],
                domain=doc.domain[:255],
                provider=doc.provider[:30],
                published=(doc.published or "")[:40],
                text=doc.text,
                content_hash=doc.content_hash,
                status=doc.status,
                reason=doc.reason[:300],
                relevance=doc.relevance,
            )
            for doc in docs
        ]
    )
    return len(kept)


def category_for(name: str) -> Category:
    existing = Category.objects.filter(name__iexact=name).first()
    if existing:
        return existing
    return Category.objects.create(name=name, slug=blog_services.unique_slug(name, model=Category))


@transaction.atomic
def publish_run(
    lease: Lease,
    run: GenerationRun,
    *,
    title: str,
    body: str,
    cited: list[int],
    meta: dict,
    usage: dict,
    held: str = "",
) -> Post:
    """Create the post, link its sources and finish the run, all in one transaction.

    The run row is locked and its lease checked first: a stale or duplicate execution
    fails here and rolls back, so a run can never make a second post. A post `held` by
    its citation report (too many claims removed) stays a draft even when asked to publish.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PUBLISH_LOCK_KEY])
    locked = GenerationRun.objects.select_for_update().get(pk=run.pk)
    if locked.lease_token != lease.token or locked.status != RunStatus.RUNNING or locked.post_id:
        raise RunNotClaimable(f"Run {run.pk} is no longer held by this execution; not publishing.")
    if is_near_duplicate(title, titles_to_avoid()):
        title = f"{title} (part {run.batch_index + 1})"[:200]
    sources = {s.number: s for s in ResearchSource.objects.filter(run=run, number__in=cited)}
    # The citations stage stripped foreign links already; this guards what is saved.
    policy = LinkPolicy.for_sources(
        (new, sources[old].url) for new, old in enumerate(cited, 1) if old in sources
    )
    body, _ = strip_links(body, policy=policy)
    post = blog_services.post_create(
        title=title,
        body=body,
        author=run.author,
        status=Post.Status.PUBLISHED if run.publish and not held else Post.Status.DRAFT,
        category=category_for(meta["category"]),
        tags=blog_services.tags_normalize(meta["tags"]),
        excerpt=meta["excerpt"],
        meta_description=meta["meta_description"],
        sources=[
            {
                "number": new,
                "title": sources[old].title or sources[old].url,
                "url": sources[old].url,
                "domain": sources[old].domain,
            }
            for new, old in enumerate(cited, start=1)
            if old in sources
        ],
    )
    ResearchSource.objects.filter(run=run, number__in=cited).update(cited=True)
    GenerationRun.objects.filter(pk=run.pk).update(
        post=post,
        status=RunStatus.SUCCEEDED,
        stage="publish",
        timings=run.timings,
        finished_at=timezone.now(),
        lease_token="",
        lease_expires_at=None,
        next_retry_at=None,
        **usage,
    )
    return post
