"""Living posts end to end: a post made by the real pipeline, one of its cited pages
rewritten on the stand-in web and another answering 404; one tick of the scheduler's
periodic job flags it with the old and the new text; the editor proposes a refresh, the
refresh job rewrites the affected section from the page as it reads now, and once the
editor accepts it readers get a post whose changed claims cite the new text, dated, with
the dead source marked."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from blog.models import Post, PostRevision, PostSource
from generation.execution import service as execution
from generation.models import PostVerification, SourceCheck
from generation.pipeline.evidence.citations import SourceIndex
from generation.pipeline.evidence.claims import parse_draft
from generation.scheduling import periodic
from tests.workers import drain_queue

pytestmark = pytest.mark.django_db(transaction=True)

# What the cited page says now: on the post's topic, every sentence new.
NEW_TEXT = (
    "Quantization benchmarks published in the revised edition report a median latency of "
    "forty-one milliseconds on the newer accelerator boards. The revised edition also "
    "reports that batching beyond sixty-four requests brought no further throughput gain "
    "on those accelerator boards. Its authors withdrew the earlier figures after a "
    "measurement error was found in the original test harness."
)


def _slug(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[1]


def _citing(body: str, number: int) -> list:
    draft = parse_draft("body", body, known={number})
    return [s for s in draft.sentences() if number in s.cited]


def test_a_changed_page_flags_the_post_and_an_accepted_refresh_cites_the_new_text(
    standins, author, admin_client, client, settings
):
    settings.VERIFY_CACHE_MAX_AGE_S = 0  # the pages were just fetched: read them again
    (run,) = execution.generate_posts(
        count=1, topic="LLM optimization", author=author, publish=True
    )
    post = Post.objects.get(generation_run=run)
    month_ago = timezone.now() - timedelta(days=settings.VERIFY_AFTER_DAYS + 1)
    Post.objects.filter(pk=post.pk).update(published_at=month_ago)
    sources = list(post.sources.order_by("number"))
    changed = next(s for s in sources if _citing(post.body, s.number))
    dead = next(s for s in sources if s.number != changed.number)
    old_claims = [c.text for c in _citing(post.body, changed.number)]
    standins.web.add_page(_slug(changed.url), "Revised benchmarks", NEW_TEXT)
    standins.web.gone[_slug(dead.url)] = 404
    standins.llm.reset()

    # One tick: the post is due, verified in the job the tick queued, and flagged.
    assert periodic.verify_posts_tick() == 1
    drain_queue()
    post.refresh_from_db()
    verification = PostVerification.objects.get(post=post)
    assert verification.outcome == PostVerification.Outcome.FLAGGED
    assert post.needs_refresh and post.status == Post.Status.PUBLISHED
    check = verification.source_checks.get(number=changed.number)
    assert check.verdict == SourceCheck.Verdict.PASSAGE_GONE and "accelerator" in check.new_text
    failed = verification.claim_checks.filter(source_number=changed.number, backed=False)
    assert failed and all(c.old_passage and c.sentence for c in failed)
    gone = verification.source_checks.get(number=dead.number)
    assert (gone.verdict, gone.http_status) == (SourceCheck.Verdict.GONE, 404)
    assert standins.llm.total == 0  # re-reading needed no model (the judge is off)

    # The review screen shows the evidence: the old passage beside the new text.
    review = reverse("admin:blog_post_review", args=[post.pk])
    screen = admin_client.get(review).content.decode()
    assert "needs refresh" in screen.lower() and "accelerator boards" in screen

    said = admin_client.post(review, {"action": "refresh"}, follow=True).content.decode()
    assert "Refresh queued" in said
    drain_queue()
    (proposal,) = post.revisions.filter(proposed=True, origin=PostRevision.Origin.REFRESH)
    assert Post.objects.get(pk=post.pk).body == post.body  # the live post waits meanwhile

    admin_client.post(review, {"action": "accept", "revision": proposal.pk})
    post = Post.objects.get(pk=post.pk)
    assert post.body == proposal.body and post.status == Post.Status.PUBLISHED
    assert post.refreshed_at and not post.needs_refresh
    # The changed source's claims now cite what the page says now, not what it said.
    new_claims = _citing(post.body, changed.number)
    assert new_claims and not set(old_claims) & {c.text for c in new_claims}
    fresh = SourceIndex(check.new_text)
    for sentence in new_claims:
        assert fresh.check(sentence.to_claim(), number=changed.number, threshold=0.5).ok

    page = client.get(post.get_absolute_url()).content.decode()
    assert "Sources last checked on" in page
    assert "No longer available</strong> — quoted as fetched on" in page
    assert post.sources.get(number=dead.number).availability == PostSource.Availability.GONE
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert block and json.loads(block.group(1))["dateModified"].startswith(
        post.refreshed_at.isoformat()[:19]
    )
