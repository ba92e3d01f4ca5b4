"""Where a run's post goes: in review unless publishing was asked and every check passed."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils.html import escape

from blog import services as blog_services
from blog.models import Post, PostRevision
from generation.execution import service
from generation.models import GenerationRun
from generation.pipeline.publishing import NOT_ASKED_TO_PUBLISH

pytestmark = pytest.mark.django_db


def test_a_run_not_asked_to_publish_goes_to_review_with_a_pipeline_revision(standins, author):
    (run,) = service.generate_posts(count=1, topic="LLM optimization", author=author)
    post = run.post
    assert post.status == Post.Status.IN_REVIEW
    assert post.hold_reason == NOT_ASKED_TO_PUBLISH
    (revision,) = post.revisions.all()
    assert revision.origin == PostRevision.Origin.PIPELINE and revision.body == post.body


def test_a_run_asked_to_publish_that_passes_is_published_without_a_hold(standins, author):
    (run,) = service.generate_posts(count=1, topic="LLM optimization", author=author, publish=True)
    assert run.post.status == Post.Status.PUBLISHED and run.post.hold_reason == ""


class _LinkedData(HTMLParser):
    """Collects the JSON-LD blocks, meta tags and the canonical link of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: list[str] = []
        self.meta: dict[str, str] = {}
        self.canonical = ""
        self._in_ld = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("type") == "application/ld+json":
            self._in_ld = True
            self.blocks.append("")
        elif tag == "meta" and (key := found.get("property") or found.get("name")):
            self.meta[key] = found.get("content") or ""
        elif tag == "link" and found.get("rel") == "canonical":
            self.canonical = found.get("href") or ""

    def handle_endtag(self, tag: str) -> None:
        self._in_ld = self._in_ld and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_ld:
            self.blocks[-1] += data


def test_readers_see_how_a_generated_post_was_made(standins, author, client):
    (run,) = service.generate_posts(count=1, topic="LLM optimization", author=author, publish=True)
    post = run.post
    sources = list(post.sources.all())
    page = client.get(post.get_absolute_url()).content.decode()
    told = f"Researched and drafted with AI from {len(sources)} sources; not reviewed."
    assert told in page
    assert all(source.fetched_at is not None for source in sources)
    assert page.count('class="fetched"') == len(sources)
    parsed = _LinkedData()
    parsed.feed(page)
    (block,) = parsed.blocks
    article = json.loads(block)
    assert article["@type"] == "Article" and article["headline"] == post.title
    assert article["author"]["name"] == author.get_username()
    assert article["datePublished"] and article["dateModified"]
    assert [c["url"] for c in article["citation"]] == [s.url for s in sources]
    assert parsed.canonical.endswith(post.get_absolute_url())
    assert article["url"] == parsed.canonical == parsed.meta["og:url"]
    assert parsed.meta["twitter:title"] == parsed.meta["og:title"] == post.title
    feed = client.get(reverse("blog:feed")).content.decode()
    assert told in feed


def test_the_disclosure_names_the_reviewer(standins, author, client, admin_user):
    (run,) = service.generate_posts(count=1, topic="LLM optimization", author=author)
    post = blog_services.post_approve(run.post, reviewer=admin_user)
    page = client.get(post.get_absolute_url()).content.decode()
    assert f"reviewed by {admin_user.get_username()} on " in page
    assert "not reviewed" not in page


def test_the_review_screen_shows_each_cited_sentence_beside_its_passage(
    standins, author, admin_client
):
    (run,) = service.generate_posts(count=1, topic="LLM optimization", author=author)
    post = run.post
    page = admin_client.get(reverse("admin:blog_post_review", args=[post.pk])).content.decode()
    links = re.findall(r'<a href="#claim-(\d+)" class="claim-link" aria-label="Claim', page)
    assert links and links[0] == "1"  # the body's citations lead to their claims
    panels = re.findall(r'<section class="passage" id="claim-(\d+)"', page)
    assert set(links) <= set(panels)
    first = page[page.index('id="claim-1"') :]
    first = first[: first.index("</section>")]
    assert "<mark>" in first and "(verified)" in page
    source = post.sources.get(number=int(re.search(r"\[(\d+)\]", first).group(1)))
    assert source.url in first
    assert "Removed claims" in page and "Sources fetched but dropped" in page
    for dropped in run.sources.exclude(status="kept"):
        assert dropped.reason in page


@pytest.mark.llm_options(hostile=["figures", "stubborn"])
def test_a_held_run_shows_its_removed_claims_and_reason_on_the_review_screen(
    standins, author, admin_client, settings
):
    settings.GENERATION_MAX_REMOVED_SHARE = 0.1
    (run,) = service.generate_posts(count=1, topic="LLM optimization", author=author, publish=True)
    post = run.post
    assert (
        post.status == Post.Status.IN_REVIEW and "GENERATION_MAX_REMOVED_SHARE" in post.hold_reason
    )
    page = admin_client.get(reverse("admin:blog_post_review", args=[post.pk])).content.decode()
    assert escape(post.hold_reason) in page
    removed = run.checkpoints["citations"]["removed"]
    assert removed
    for claim in removed:
        assert escape(claim["reason"]) in page


def test_the_sync_command_says_the_post_is_in_review_and_prints_its_review_url(
    standins, author, capsys
):
    call_command("generate_deep_research", "--topic=LLM optimization", f"--author={author.pk}")
    out = capsys.readouterr().out
    run = GenerationRun.objects.get()
    report = run.checkpoints["citations"]
    review_url = reverse("admin:blog_post_review", args=[run.post.pk])
    removed = f"{len(report['removed'])} of {report['claims']} claims removed"
    assert f"{review_url} (in review: {removed})" in out
