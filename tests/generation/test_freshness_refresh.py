"""Living posts: a proposed refresh rewrites the affected section from the sources as they
read now (the stand-in writer is given the page's new text), shows as a diff, and once
accepted is the live post, dated (JSON-LD dateModified), its sources re-read, its spend
on the run and the daily budget."""

from __future__ import annotations

import json
import re

import pytest
from django.db.models import Sum
from django.urls import reverse

from blog.models import Post, PostRevision, PostSource
from generation import queues
from generation.execution import service
from generation.models import GenerationRun, ResearchSource, RunSpend, SourceCheck
from generation.pipeline.evidence.citations import SourceIndex
from generation.pipeline.evidence.claims import parse_draft
from tests.freshness_factories import flag_post
from tests.workers import drain_queue

pytestmark = pytest.mark.django_db(transaction=True)

# The page as it reads now: every sentence new, none in what the post was written from.
NEW_TEXT = (
    "Quantization benchmarks published in the revised edition report a median latency of "
    "forty-one milliseconds on the newer accelerator boards.\n"
    "The revised edition also reports that batching beyond sixty-four requests brought no "
    "further throughput gain on those accelerator boards.\n"
)


def _section(body: str, heading: str) -> str:
    start = body.index(f"## {heading}")
    following = body.find("\n## ", start + 1)
    return body[start : following if following != -1 else len(body)]


def _claims_citing(text: str, number: int) -> list:
    draft = parse_draft("body", text, known={number})
    return [s for s in draft.sentences() if number in s.cited]


def test_a_proposed_refresh_cites_the_new_text_and_accepting_it_dates_the_post(
    standins, author, admin_client, client
):
    (run,) = service.generate_posts(count=1, topic="LLM optimization", author=author, publish=True)
    post = Post.objects.get(pk=run.post.pk)
    cited = run.checkpoints["citations"]["cited"]
    plan = run.checkpoints["outline"]["sections"][1]
    heading = plan["heading"]
    section = _section(post.body, heading)
    # A source of that section the section cites: its page changed, its passage gone.
    number = next(
        cited.index(n) + 1
        for n in plan["sources"]
        if n in cited and _claims_citing(section, cited.index(n) + 1)
    )
    failed = _claims_citing(section, number)[0]
    old_text = ResearchSource.objects.get(run=run, number=cited[number - 1]).text
    # The section's other source: its page is gone (a 404), its stored passage kept.
    gone = next(
        cited.index(n) + 1 for n in plan["sources"] if n in cited and n != cited[number - 1]
    )
    post.sources.filter(number=gone).update(passage="What the <gone> page said, as fetched.")
    verification = flag_post(
        post,
        sources=[
            {
                "number": number,
                "url": post.sources.get(number=number).url,
                "verdict": SourceCheck.Verdict.PASSAGE_GONE,
                "http_status": 200,
                "new_text": NEW_TEXT,
            },
            {
                "number": gone,
                "url": post.sources.get(number=gone).url,
                "verdict": SourceCheck.Verdict.GONE,
                "http_status": 404,
            },
        ],
        claims=[{"source_number": number, "sentence": failed.text, "old_passage": old_text[:300]}],
    )
    review = reverse("admin:blog_post_review", args=[post.pk])
    before_calls, before_cost = run.llm_calls, run.cost_usd

    said = admin_client.post(review, {"action": "refresh"}, follow=True).content.decode()
    assert "Refresh queued" in said
    verification.refresh_from_db()
    assert verification.resolution == "refresh_proposed"
    assert queues.get_queue("content").count == 1
    drain_queue()

    (proposal,) = post.revisions.filter(proposed=True)
    assert proposal.origin == PostRevision.Origin.REFRESH and heading in proposal.note
    # The live post is as it was while the proposal waits.
    assert Post.objects.get(pk=post.pk).body == post.body
    # Only the affected section was rewritten; what precedes it is unchanged.
    start = post.body.index(f"## {heading}")
    assert proposal.body[:start] == post.body[:start]
    # Its claims on the changed source are backed by the page's text now, not by the
    # text the post was written from: the writer was given the fresh text.
    new_claims = _claims_citing(_section(proposal.body, heading), number)
    assert new_claims and "accelerator boards" in proposal.body
    assert failed.text not in proposal.body
    # The gone source was left out: the rewritten section no longer cites it.
    assert f"[{gone}]" not in _section(proposal.body, heading)
    fresh, stale = SourceIndex(NEW_TEXT), SourceIndex(old_text)
    for sentence in new_claims:
        claim = sentence.to_claim()
        assert fresh.check(claim, number=number, threshold=0.5).ok, sentence.text
        assert not stale.check(claim, number=number, threshold=0.5).ok, sentence.text

    # The spend is on the run (under "refresh") and booked against the daily budget.
    run = GenerationRun.objects.get(pk=run.pk)
    assert run.usage_by_stage["refresh"]["calls"] >= 1
    assert run.llm_calls > before_calls and run.cost_usd > before_cost
    spent = RunSpend.objects.filter(run=run).aggregate(cost=Sum("cost_usd"), calls=Sum("calls"))
    assert spent["cost"] == run.cost_usd and spent["calls"] == run.llm_calls

    # The diff against the live post, from the review screen's link.
    current = post.revisions.filter(proposed=False).first()
    screen = admin_client.get(review).content.decode()
    diff_link = f"?a={current.pk}&amp;b={proposal.pk}"
    assert "Proposed revisions" in screen and diff_link in screen
    revisions = reverse("admin:blog_post_revisions", args=[post.pk])
    diff = admin_client.get(revisions, {"a": current.pk, "b": proposal.pk}).content.decode()
    assert 'class="diff"' in diff
    assert "diff_add" in diff or "diff_chg" in diff
    assert "accelerator" in diff

    admin_client.post(review, {"action": "accept", "revision": proposal.pk})
    post = Post.objects.get(pk=post.pk)
    assert post.body == proposal.body and post.status == Post.Status.PUBLISHED
    assert post.refreshed_at is not None and not post.needs_refresh
    assert post.revisions.first().origin == PostRevision.Origin.REFRESH
    source = post.sources.get(number=number)
    assert source.availability == PostSource.Availability.AVAILABLE
    assert source.fetched_at == verification.finished_at
    assert any(c.text.split("[")[0].strip().rstrip(".") in source.passage for c in new_claims)
    verification.refresh_from_db()
    assert verification.resolution == "refreshed"

    page = client.get(post.get_absolute_url()).content.decode()
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    article = json.loads(block.group(1))
    assert article["dateModified"].startswith(post.refreshed_at.isoformat()[:19])
    assert "accelerator boards" in page  # the refreshed section is what readers see
    # The gone source is marked, quoted from the passage we stored (escaped).
    assert "No longer available</strong> — quoted as fetched on" in page
    assert "What the &lt;gone&gt; page said, as fetched." in page
    assert post.sources.get(number=gone).availability == PostSource.Availability.GONE
