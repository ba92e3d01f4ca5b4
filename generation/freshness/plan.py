"""What a verification starts from: the post's sources, what it cited from each, and the
text it was written from (reads only).

A post published before passages were kept has none on its sources: they are worked out
again from its run's research text (`ResearchSource`), where the run is still there, and
stored with the verification's results. The hash of the text last known comes from the
last verification that read the source, else from the run's research.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from blog.models import Post, PostSource
from generation.freshness.reread import Cited
from generation.models import GenerationRun, ResearchSource, SourceCheck
from generation.pipeline.evidence.passages import cited_passages, passages_of


@dataclass
class Plan:
    post: Post
    sources: list[PostSource]
    cited: list[Cited]
    backfill: dict[int, str] = field(default_factory=dict)  # number -> passages found again


def plan_for(post: Post) -> Plan:
    """The verification's starting point for `post`."""
    sources = list(post.sources.order_by("number"))
    research = _research_by_url(post)
    missing = {
        s.number: research[s.url].text
        for s in sources
        if not s.passage and s.url in research and research[s.url].text
    }
    backfill = (
        cited_passages(post.body, missing, threshold=settings.GENERATION_CITATION_THRESHOLD)
        if missing
        else {}
    )
    hashes = _last_hashes(post)
    cited = [
        Cited(
            number=s.number,
            url=s.url,
            title=s.title,
            passages=tuple(passages_of(s.passage or backfill.get(s.number, ""))),
            old_hash=hashes.get((s.number, s.url))
            or (research[s.url].content_hash if s.url in research else ""),
        )
        for s in sources
    ]
    return Plan(post, sources, cited, backfill)


def _research_by_url(post: Post) -> dict[str, ResearchSource]:
    run = GenerationRun.objects.filter(post=post).first()
    if run is None:
        return {}
    kept = ResearchSource.objects.filter(run=run, status=ResearchSource.Status.KEPT)
    return {source.url: source for source in kept}


def _last_hashes(post: Post) -> dict[tuple[int, str], str]:
    """(number, url) -> the text hash the latest finished verification read."""
    checks = (
        SourceCheck.objects.filter(verification__post=post, verification__status="done")
        .exclude(new_hash="")
        .order_by("verification__finished_at", "id")
        .values_list("number", "url", "new_hash")
    )
    return {(number, url): digest for number, url, digest in checks}
