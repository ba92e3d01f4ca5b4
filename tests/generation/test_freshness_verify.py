"""Living posts: a published post's sources read again through the real research path
(guard, robots.txt, host slots, the cache's conditional requests) against the stand-in
web, its claims checked again with the pipeline's check, and what it found recorded."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.utils import timezone
from rq import SimpleWorker

from blog.models import Post, PostSource
from generation import queues
from generation.execution import service as execution
from generation.freshness import service
from generation.freshness.job import verify_post_job
from generation.freshness.recheck import JUDGE_SKIPPED
from generation.models import ClaimCheck, PostVerification, RunSpend, SourceCheck
from generation.pipeline.evidence.passages import passage_present
from generation.scheduling import periodic
from tests.factories import make_user
from tests.generation.freshness_posts import a_sentence, page_text, sourced_post

Verdict = SourceCheck.Verdict
REWRITTEN = (
    "This page was rewritten from top to bottom. It now covers tomato gardening, soil "
    "preparation and watering schedules for a dry summer. Nothing else remains here."
)


def run_tick() -> int:
    """One tick of the scheduler's periodic job, then the jobs it queued, in-process."""
    queued = periodic.verify_posts_tick()
    queue = queues.get_queue("content")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    return queued


def slug_of(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[1]


def age(post: Post, days: float = 31) -> None:
    Post.objects.filter(pk=post.pk).update(published_at=timezone.now() - timedelta(days=days))


@pytest.fixture
def generated(standins, author, settings):
    """A post made and published by the real pipeline, its pages in the research cache,
    the cached copies older than verification reuses as they are."""
    settings.VERIFY_CACHE_MAX_AGE_S = 0
    (run,) = execution.generate_posts(
        count=1, topic="LLM optimization", author=author, publish=True
    )
    post = Post.objects.get(generation_run=run)
    assert post.status == Post.Status.PUBLISHED
    age(post)
    standins.llm.reset()
    standins.web.reset_counts()
    return post


@pytest.mark.django_db
def test_a_cited_page_changed_since_generation_flags_the_post_within_one_tick(generated, standins):
    sources = list(generated.sources.order_by("number"))
    assert sources and all(s.passage for s in sources)  # kept at publishing
    first = sources[0]
    standins.web.add_page(slug_of(first.url), "Rewritten", REWRITTEN)

    assert run_tick() == 1

    generated.refresh_from_db()
    verification = PostVerification.objects.get(post=generated)
    assert verification.status == "done" and verification.outcome == "flagged"
    assert generated.needs_refresh and generated.status == Post.Status.PUBLISHED
    assert "no longer backed by [1]" in generated.refresh_reason
    assert generated.last_verified_at == verification.finished_at
    check = verification.source_checks.get(number=1)
    assert check.verdict == Verdict.PASSAGE_GONE and "tomato gardening" in check.new_text
    claims = list(verification.claim_checks.filter(source_number=1))
    assert claims and not any(c.backed for c in claims)
    for claim in claims:  # the old passage as fetched, the new text it was checked against
        assert claim.old_passage and passage_present(claim.old_passage[:80], first.passage)
        assert not passage_present(claim.old_passage, REWRITTEN)
    assert verification.claims_failed == len(claims) == verification.claims_checked
    first.refresh_from_db()
    assert first.availability == PostSource.Availability.CHANGED and first.checked_at
    # The other pages did not change: each answered the conditional request with a 304.
    others = len(sources) - 1
    assert verification.not_modified == others == standins.web.requests["not-modified"]
    assert verification.sources_unchanged == others
    assert standins.llm.total == 0 and verification.llm_calls == 0  # the judge is off


@pytest.mark.django_db
def test_no_change_means_no_flag_no_llm_call_and_a_304_for_every_source(
    generated, standins, settings
):
    settings.GENERATION_CITATION_JUDGE = True  # even so: no claim to check, no call
    count = generated.sources.count()
    # A post published before passages were kept gets them back from its run's research.
    kept = dict(generated.sources.values_list("number", "passage"))
    generated.sources.update(passage="")

    assert run_tick() == 1

    generated.refresh_from_db()
    verification = PostVerification.objects.get(post=generated)
    assert verification.outcome == "clean" and not generated.needs_refresh
    assert verification.sources_unchanged == count and verification.claims_checked == 0
    assert verification.not_modified == verification.fetches == count
    assert standins.web.requests["not-modified"] == count
    assert standins.llm.total == 0 and verification.llm_calls == 0
    assert dict(generated.sources.values_list("number", "passage")) == kept
    assert set(generated.sources.values_list("availability", flat=True)) == {"available"}


@pytest.mark.django_db
def test_a_page_answering_404_or_410_is_gone_and_flags_the_post(web_standin):
    slugs = sorted(web_standin.pages)[:3]
    post = sourced_post(web_standin, slugs)
    web_standin.gone[slugs[0]] = 404
    web_standin.gone[slugs[1]] = 410

    verification = service.verify_post_now(post.pk)

    post.refresh_from_db()
    checks = {c.number: c for c in verification.source_checks.all()}
    assert (checks[1].verdict, checks[1].http_status) == (Verdict.GONE, 404)
    assert (checks[2].verdict, checks[2].http_status) == (Verdict.GONE, 410)
    assert checks[3].verdict == Verdict.UNCHANGED  # first fetch: no hash, passages intact
    availability = dict(post.sources.values_list("number", "availability"))
    assert availability == {1: "gone", 2: "gone", 3: "available"}
    assert post.needs_refresh and "source(s) gone: [1] (HTTP 404), [2] (HTTP 410)" in (
        post.refresh_reason
    )
    assert verification.outcome == "flagged" and verification.sources_gone == 2
    # The passage stays with the post, for readers once the page is gone.
    assert all(post.sources.values_list("passage", flat=True))


@pytest.mark.django_db
def test_a_moved_page_records_where_it_went_and_a_disallowed_one_is_skipped(web_standin):
    slugs = sorted(web_standin.pages)[:2]
    post = sourced_post(web_standin, slugs)
    old = web_standin.pages[slugs[0]]
    new_url = web_standin.add_page("moved-here", old.title, old.text)
    web_standin.moved[slugs[0]] = new_url
    web_standin.robots = f"User-agent: *\nDisallow: /pages/{slugs[1]}"

    verification = service.verify_post_now(post.pk)

    checks = {c.number: c for c in verification.source_checks.all()}
    assert checks[1].verdict == Verdict.MOVED and checks[1].moved_to == new_url
    assert checks[2].verdict == Verdict.SKIPPED and "robots.txt" in checks[2].detail
    moved = post.sources.get(number=1)
    assert (moved.availability, moved.moved_to) == ("moved", new_url)
    assert post.sources.get(number=2).availability == ""  # no verdict: not a flag
    post.refresh_from_db()
    assert verification.outcome == "clean" and not post.needs_refresh


def rewritten_around(web, slug: str) -> str:
    """The page's claim sentence kept, the sentences around it (its cited window) gone."""
    sentence = a_sentence(page_text(web, slug))
    web.add_page(slug, web.pages[slug].title, f"{sentence}\n\nEverything else was replaced.")
    return sentence


@pytest.mark.django_db
def test_a_claim_still_backed_by_new_text_goes_to_the_judge_and_its_spend_is_booked(
    standins, settings, author
):
    settings.GENERATION_CITATION_JUDGE = True
    slug = sorted(standins.web.pages)[0]
    post = sourced_post(standins.web, [slug], author=author)
    rewritten_around(standins.web, slug)

    verification = service.verify_post_now(post.pk)

    check = verification.source_checks.get()
    assert check.verdict == Verdict.PASSAGE_GONE
    claim = verification.claim_checks.get()
    assert claim.backed, claim.reason
    assert standins.llm.total == verification.llm_calls == 1
    spend = RunSpend.objects.get(verification=verification)
    assert spend.run is None and spend.calls == 1 and spend.cost_usd == verification.cost_usd
    assert verification.cost_usd > 0 and verification.outcome == "clean"


@pytest.mark.django_db
def test_with_the_budget_spent_the_judge_is_skipped_and_the_verification_says_so(
    standins, settings, author
):
    settings.GENERATION_CITATION_JUDGE = True
    settings.GENERATION_DAILY_BUDGET_USD = Decimal("0.01")
    slug = sorted(standins.web.pages)[0]
    post = sourced_post(standins.web, [slug], author=author)
    spent = PostVerification.objects.create(post=post, status="done")
    RunSpend.objects.create(verification=spent, day=timezone.localdate(), cost_usd="0.02")
    rewritten_around(standins.web, slug)

    verification = service.verify_post_now(post.pk)

    assert standins.llm.total == 0 and verification.llm_calls == 0
    assert JUDGE_SKIPPED in verification.summary
    assert verification.claim_checks.get().backed  # the lexical verdict stands


@pytest.mark.django_db
def test_a_redelivered_job_does_nothing_twice(web_standin):
    post = sourced_post(web_standin, sorted(web_standin.pages)[:2])
    (verification,) = service.queue_due()

    assert verify_post_job(verification.pk).startswith("2 source(s)")
    assert verify_post_job(verification.pk) == "already handled"

    assert SourceCheck.objects.filter(verification__post=post).count() == 2
    assert PostVerification.objects.get().status == "done"


@pytest.mark.django_db
def test_the_command_errors_for_a_post_that_cannot_be_verified(web_standin):
    from generation.exceptions import InvalidRequest

    draft = sourced_post(web_standin, sorted(web_standin.pages)[:1])
    Post.objects.filter(pk=draft.pk).update(status=Post.Status.DRAFT)
    with pytest.raises(InvalidRequest, match=f"Post {draft.pk} is not published"):
        service.verify_post_now(draft.pk)
    assert not PostVerification.objects.exists() and not ClaimCheck.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("web_standin", [{"page_delay": 0.01}], indirect=True)
def test_a_batch_of_50_posts_keeps_to_the_per_host_limit(web_standin, settings):
    settings.RESEARCH_PER_HOST = 2
    settings.VERIFY_BATCH = 50
    settings.VERIFY_CACHE_MAX_AGE_S = 0
    slugs, author = sorted(web_standin.pages), make_user()
    posts = [
        sourced_post(
            web_standin, [slugs[(3 * i + k) % len(slugs)] for k in range(3)], author=author
        )
        for i in range(50)
    ]
    web_standin.gone[slugs[0]] = 404

    queued = service.verification_tick()
    assert len(queued) == 50
    ids = iter([v.pk for v in queued])
    lock = threading.Lock()

    def work() -> None:
        try:
            while True:
                with lock:
                    verification_id = next(ids, None)
                if verification_id is None:
                    return
                verify_post_job(verification_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    done = PostVerification.objects.filter(status="done")
    assert done.count() == 50
    assert web_standin.max_per_host[web_standin.host_port] == 2  # reached, never passed
    assert done.filter(outcome="flagged").count() == sum(
        web_standin.page_url(slugs[0]) in p.sources.values_list("url", flat=True) for p in posts
    )
    assert web_standin.requests["not-modified"] > 0


@pytest.mark.django_db
def test_a_site_refusing_connections_is_gone(web_standin, settings):
    import socket

    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{probe.getsockname()[1]}"
    settings.RESEARCH_ALLOW_HOSTS = [web_standin.host_port, closed]
    post = sourced_post(web_standin, sorted(web_standin.pages)[:1])
    PostSource.objects.filter(post=post).update(url=f"http://{closed}/pages/x")

    verification = service.verify_post_now(post.pk)

    check = verification.source_checks.get()
    assert check.verdict == Verdict.GONE and check.http_status is None
    assert check.detail == "connection failed (ConnectError)"
    assert post.sources.get().availability == "gone"
