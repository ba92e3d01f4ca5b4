"""Regenerating one section: a job on `content`, no research or outline call, a proposed
revision the editor accepts or discards, its cost on the run."""

from __future__ import annotations

import pytest
from django.db.models import Sum
from django.urls import reverse

from blog.models import Post, PostRevision
from generation import queues
from generation.execution import service
from generation.models import GenerationRun, RunSpend
from tests.workers import drain_queue

pytestmark = pytest.mark.django_db(transaction=True)


def test_one_section_is_rewritten_from_stored_sources_and_proposed(standins, author, admin_client):
    (run,) = service.generate_posts(count=1, topic="LLM optimization", author=author)
    post, cost_before = run.post, run.cost_usd
    before = dict(standins.llm.counts)
    heading = run.checkpoints["outline"]["sections"][1]["heading"]
    url = reverse("admin:blog_post_review", args=[post.pk])

    admin_client.post(url, {"action": "redo", "section": "1"})
    assert queues.get_queue("content").count == 1
    drain_queue()

    asked = {k: v - before.get(k, 0) for k, v in standins.llm.counts.items()}
    assert asked.get("section") == 1
    for kind in ("topic", "research", "queries", "outline", "framing", "metadata"):
        assert asked.get(kind, 0) == 0, (kind, asked)
    (proposal,) = post.revisions.filter(proposed=True)
    assert proposal.origin == PostRevision.Origin.SECTION_REDO and heading in proposal.note
    post.refresh_from_db()
    assert post.revisions.filter(proposed=False).first().body == post.body
    # Only the chosen section changed: what precedes its heading is as it was.
    start = post.body.index(f"## {heading}")
    assert proposal.body[:start] == post.body[:start]
    run = GenerationRun.objects.get(pk=run.pk)
    assert run.usage_by_stage["section_redo"]["calls"] >= 1 and run.cost_usd > cost_before
    # Booked against the daily budget too, as every run's spend is.
    spent = RunSpend.objects.filter(run=run).aggregate(cost=Sum("cost_usd"), calls=Sum("calls"))
    assert spent["cost"] == run.cost_usd and spent["calls"] == run.llm_calls

    page = admin_client.get(url).content.decode()
    assert "Proposed revisions" in page and "See the differences" in page
    admin_client.post(url, {"action": "accept", "revision": proposal.pk})
    post.refresh_from_db()
    assert post.body == proposal.body and not post.revisions.filter(proposed=True).exists()
    assert post.revisions.first().origin == PostRevision.Origin.SECTION_REDO
    assert post.status == Post.Status.IN_REVIEW


def test_a_proposal_can_be_discarded(standins, author, admin_client):
    (run,) = service.generate_posts(count=1, topic="LLM optimization", author=author)
    url = reverse("admin:blog_post_review", args=[run.post.pk])
    admin_client.post(url, {"action": "redo", "section": "0"})
    drain_queue()
    proposal = run.post.revisions.get(proposed=True)
    body = run.post.body
    admin_client.post(url, {"action": "discard", "revision": proposal.pk})
    assert not run.post.revisions.filter(proposed=True).exists()
    assert Post.objects.get(pk=run.post.pk).body == body


def test_a_post_without_a_run_cannot_have_a_section_redone(admin_client):
    from tests.factories import make_post

    post = make_post("Handwritten", status=Post.Status.IN_REVIEW)
    url = reverse("admin:blog_post_review", args=[post.pk])
    page = admin_client.post(url, {"action": "redo", "section": "0"}, follow=True)
    assert "No generation run with an outline made this post." in page.content.decode()
    assert queues.get_queue("content").count == 0
