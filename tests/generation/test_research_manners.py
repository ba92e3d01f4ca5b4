"""Research as a good citizen that wastes nothing: every result of an answer used, stalled
pages cut, a shared cache with revalidation, robots.txt and per-host limits."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from urllib.parse import urlsplit

import pytest
import redis.asyncio
from django.conf import settings

from generation.exceptions import FetchRefused, NotEnoughSources
from generation.execution import service
from generation.models import ResearchSource, RunStatus
from generation.research import Findings, make_http_client, research
from generation.research.cache import PageCache
from generation.research.polite import Manners
from generation.research.providers import SearxngProvider
from generation.research.visit import Visitor
from standins.messy import BAD_KINDS, bad_result
from standins.web import WebStandin

LLM_QUERIES = ["speculative decoding draft model", "KV cache continuous batching"]
AGENT = "DeepResearchBlog/0.1 (+https://blog.example/contact)"


def research_with(
    web: WebStandin,
    queries: list[str],
    *,
    cache_ttl: float | None = None,
    per_host: int | None = None,
    stall_s: float | None = None,
    allow: bool = True,
    **options,
) -> Findings:
    """research() over the stand-in, reading pages through a Visitor built like the
    pipeline's (Redis from REDIS_URL) with only the parts asked for."""
    options = {"max_sources": 5, "fetch_concurrency": 8, "results_per_query": 10} | options

    async def go() -> Findings:
        client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
        visitor = Visitor(stall_s=stall_s)
        if cache_ttl is not None:
            visitor.cache = PageCache(client, ttl=cache_ttl, max_bytes=50_000_000)
        if per_host is not None:
            visitor.manners = Manners(
                client, user_agent=AGENT, per_host=per_host, max_delay=1.0, slot_s=30
            )
        hosts = [web.host_port] if allow else []
        try:
            async with make_http_client(
                allow_hosts=hosts, user_agent=AGENT, timeout=15, max_bytes=500_000
            ) as http:
                return await research(
                    queries,
                    http=http,
                    providers=[SearxngProvider(web.base_url)],
                    visitor=visitor,
                    **options,
                )
        finally:
            await client.aclose()

    return asyncio.run(go())


def page_fetches(web: WebStandin) -> Counter[str]:
    return Counter(path for path in web.paths if path.startswith("/pages/"))


# --- No wasted results ---------------------------------------------------------------------


def seventeen_results(web: WebStandin) -> list[str]:
    """One answer of 17: a good page, 9 unusable ones, then 7 good ones. The good URLs."""
    extra = web.add_page(
        "llm-serving-costs",
        "LLM serving costs",
        "LLM optimization cuts serving costs: batching, quantization and caching of the "
        "KV cache let one GPU serve more requests per second. " * 6,
    )
    slugs = [
        "llm-paged-attention",
        "llm-prompt-caching",
        "llm-quantization",
        "llm-speculative-decoding",
        "llm-batching-kv-cache",
        "llm-flash-attention",
        "llm-distillation",
    ]
    good = [web.page_url(slugs[0]), *(web.page_url(slug) for slug in slugs[1:]), extra]
    bad = [
        bad_result(BAD_KINDS[n % len(BAD_KINDS)], web.base_url, f"llm-guide-{n}", n)
        for n in range(9)
    ]
    results = [{"url": good[0], "title": "LLM optimization"}, *bad]
    results += [{"url": url, "title": "LLM optimization notes"} for url in good[1:]]
    web.fixed_results = results
    return good


@pytest.mark.django_db
def test_one_answer_of_17_with_9_unusable_early_gives_a_post_from_the_good_ones(
    standins, author, settings
):
    settings.RESEARCH_RESULTS_PER_QUERY = 10
    settings.RESEARCH_STRAGGLER_FACTOR = 1000  # under load a slow page is not the point here
    good = seventeen_results(standins.web)
    assert len(standins.web.fixed_results) == 17

    (run,) = service.generate_posts(count=1, topic="LLM optimization", author=author)

    assert run.status == RunStatus.SUCCEEDED, run.errors
    sources = ResearchSource.objects.filter(run=run)
    kept = {source.url for source in sources if source.status == "kept"}
    assert kept <= set(good) and kept & set(good[1:])
    # Every good page was read, those past the 10th result too: none was thrown away.
    read = {source.url for source in sources if source.text}
    assert read == set(good)
    # The provider answered everything on its first page: the reserve was enough.
    assert not any("pageno=" in path for path in standins.web.paths)


def test_paging_stops_for_a_query_whose_next_page_brings_nothing_new():
    with WebStandin(corpus_dir=None) as web:
        web.pin_result(f"{web.base_url}/status/404", "Alpha gone")
        web.add_page("alpha", "Alpha topic", "Alpha topic facts. " * 40)
        with pytest.raises(NotEnoughSources):
            research_with(web, ["alpha topic"], min_sources=2)
        searches = [path for path in web.paths if path.startswith("/search")]
    assert len(searches) == 2  # page 1, then page 2 (only known URLs): no page 3
    assert "pageno=2" in searches[1]


# --- Stalled pages -------------------------------------------------------------------------


def test_a_page_that_never_answers_ends_a_hopeless_run_soon_after_its_last_event():
    stall = 1.0
    with WebStandin(corpus_dir=None) as web:
        web.add_page("alpha", "Alpha topic", "Alpha topic facts. " * 40)
        web.pin_result(f"{web.base_url}/silent", "Alpha topic, the whole story")
        with pytest.raises(NotEnoughSources) as caught:
            research_with(web, ["alpha topic"], min_sources=2, stall_s=stall, deadline_s=30)
        ended = time.monotonic()
        last_event = max(web.finished_at.values())  # /silent never finished

    assert ended - last_event <= stall + 1, ended - last_event
    silent = next(doc for doc in caught.value.docs if doc.url.endswith("/silent"))
    assert silent.reason == f"stalled: no bytes for {stall:g}s"


def test_a_page_that_trickles_is_not_a_stalled_page():
    with WebStandin(corpus_dir=None) as web:
        web.add_page("alpha", "Alpha topic", "Alpha topic facts. " * 40)
        web.pin_result(f"{web.base_url}/slow/1.5", "Slow content about alpha topic")
        findings = research_with(web, ["alpha topic slow content"], min_sources=2, stall_s=3)
    assert {doc.url.rsplit("/", 1)[-1] for doc in findings.kept} == {"alpha", "1.5"}


# --- The research cache ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_batch_of_five_posts_on_one_topic_fetches_each_page_once(standins, author, settings):
    standins.web.robots = "User-agent: *\nAllow: /\n"
    settings.RESEARCH_STRAGGLER_FACTOR = 1000  # a page cut as a straggler is never stored

    runs = service.generate_posts(count=5, topic="LLM optimization", author=author)

    assert [run.status for run in runs] == [RunStatus.SUCCEEDED] * 5
    fetched = page_fetches(standins.web)
    assert fetched and set(fetched.values()) == {1}, fetched
    assert standins.web.requests["robots"] == 1
    later = [run.checkpoints["research"]["cache_hits"] for run in runs[1:]]
    assert all(hits > 0 for hits in later), later
    assert runs[0].checkpoints["research"]["cache_hits"] == 0
    cached = ResearchSource.objects.filter(run=runs[-1], status="kept")
    assert {source.from_cache for source in cached} == {"hit"}


def test_a_page_past_its_ttl_is_revalidated_and_a_304_costs_no_body():
    # Which pages fill the slots follows arrival (concurrent fetches), so the two runs may
    # read different pages: every page the first stored and the second read again is a
    # 304, and the second keeps those as revalidated copies of the stored text.
    with WebStandin() as web:
        first = research_with(web, LLM_QUERIES, cache_ttl=0.0, straggler_factor=1000)
        once = page_fetches(web)
        again = research_with(web, LLM_QUERIES, cache_ttl=0.0, straggler_factor=1000)
        twice = page_fetches(web)
    read_again = [path for path in once if twice[path] > once[path]]
    assert read_again and web.requests["not-modified"] == len(read_again)

    stored = {urlsplit(doc.url).path for doc in again.kept} & set(once)
    assert stored
    for doc in again.kept:
        assert doc.cache == ("revalidated" if urlsplit(doc.url).path in once else "")
    fetched_first = {doc.url: doc.text for doc in first.docs if doc.text}
    both = [doc for doc in again.kept if doc.url in fetched_first]
    assert both and all(doc.text == fetched_first[doc.url] for doc in both)
    assert all(doc.text.strip() for doc in again.kept)
    assert again.stats["revalidated"] == sum(doc.cache == "revalidated" for doc in again.docs)
    assert again.stats["cache_hits"] == 0


@pytest.mark.parametrize("directive", ["no-store", "private, max-age=600"])
def test_pages_marked_no_store_or_private_are_not_cached(directive):
    with WebStandin() as web:
        web.cache_control = directive
        research_with(web, LLM_QUERIES, cache_ttl=3600, straggler_factor=1000)
        once = page_fetches(web)
        again = research_with(web, LLM_QUERIES, cache_ttl=3600, straggler_factor=1000)
        twice = page_fetches(web)
    # Pages read by both runs were fetched whole both times: nothing came from the cache.
    assert any(twice[path] == 2 * once[path] for path in once)
    assert web.requests["not-modified"] == 0
    assert all(doc.cache == "" for doc in again.docs)
    assert again.stats["cache_hits"] == 0


def test_a_cached_page_still_passes_the_guard():
    with WebStandin() as web:
        research_with(web, LLM_QUERIES, cache_ttl=3600)
        url = web.page_url("llm-speculative-decoding")

        async def read_without_allow_list() -> None:
            client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
            visitor = Visitor(cache=PageCache(client, ttl=3600, max_bytes=50_000_000))
            try:
                assert await visitor.cache.get(url) is not None  # it is in the cache
                async with make_http_client(user_agent=AGENT, timeout=5, max_bytes=1000) as http:
                    await visitor.read(http, url)
            finally:
                await client.aclose()

        with pytest.raises(FetchRefused, match=r"loopback address 127\.0\.0\.1"):
            asyncio.run(read_without_allow_list())


def test_the_cache_evicts_the_least_recently_used_past_its_cap():
    from generation.research.fetch import FetchedPage

    async def go() -> list[bool]:
        client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
        cache = PageCache(client, ttl=3600, max_bytes=4000)  # room for three
        try:
            for n in range(4):
                body = os.urandom(1000)  # does not compress
                await cache.put(f"https://a.example/{n}", FetchedPage("u", "text/html", body))
                if n == 1:
                    await cache.get("https://a.example/0")  # used again: kept
            kept = [await cache.get(f"https://a.example/{n}") is not None for n in range(4)]
            assert await cache.size() <= 4000
            return kept
        finally:
            await client.aclose()

    assert asyncio.run(go()) == [True, False, True, True]


def test_research_goes_on_without_the_cache_and_slots_when_redis_is_down():
    async def go(web: WebStandin) -> Findings:
        down = redis.asyncio.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
        visitor = Visitor(
            cache=PageCache(down, ttl=3600, max_bytes=1_000_000),
            manners=Manners(down, user_agent=AGENT, per_host=2, max_delay=1.0, slot_s=30),
            stall_s=3,
        )
        async with make_http_client(
            allow_hosts=[web.host_port], user_agent=AGENT, timeout=15, max_bytes=500_000
        ) as http:
            return await research(
                LLM_QUERIES,
                http=http,
                providers=[SearxngProvider(web.base_url)],
                visitor=visitor,
                max_sources=3,
                fetch_concurrency=4,
                results_per_query=10,
            )

    with WebStandin() as web:
        findings = asyncio.run(go(web))
    assert len(findings.kept) == 3
    assert all(doc.cache == "" for doc in findings.docs)


# --- Polite fetching -------------------------------------------------------------------------


def test_robots_txt_disallow_drops_the_page_unfetched():
    with WebStandin() as web:
        web.robots = (
            "User-agent: *\nDisallow: /nothing\n\n"
            "User-agent: DeepResearchBlog\nDisallow: /pages/llm-speculative-decoding\n"
        )
        findings = research_with(web, LLM_QUERIES, per_host=8)
        fetched = page_fetches(web)
        robots = web.requests["robots"]
    assert "/pages/llm-speculative-decoding" not in fetched
    assert "/pages/llm-batching-kv-cache" in fetched
    doc = next(d for d in findings.docs if d.url.endswith("/llm-speculative-decoding"))
    assert (doc.status, doc.reason) == ("failed", "refused: disallowed by the site's robots.txt")
    assert robots == 1  # read once for the host, not once per page


@pytest.mark.parametrize("web_standin", [{"page_delay": 0.2}], indirect=True)
def test_no_more_than_per_host_fetches_reach_one_host_at_once(web_standin):
    research_with(web_standin, LLM_QUERIES, per_host=2, fetch_concurrency=8, max_sources=8)
    assert sum(page_fetches(web_standin).values()) >= 4
    assert max(web_standin.max_per_host.values()) == 2


@pytest.mark.parametrize("web_standin", [{"page_delay": 0.3}], indirect=True)
def test_a_fetch_waiting_for_its_host_slot_is_not_cut_as_a_straggler(web_standin):
    findings = research_with(
        web_standin, LLM_QUERIES, per_host=1, min_sources=2, max_sources=5, deadline_s=20
    )
    assert len(findings.kept) == 5
    assert not [doc.reason for doc in findings.docs if doc.reason.startswith("cut:")]
    assert max(web_standin.max_per_host.values()) == 1


def test_crawl_delay_spaces_the_fetches_of_one_host():
    with WebStandin() as web:
        web.robots = "User-agent: *\nCrawl-delay: 0.4\n"
        started = time.monotonic()
        research_with(web, LLM_QUERIES, per_host=8, max_sources=4)
        seconds = time.monotonic() - started
        fetched = sum(page_fetches(web).values())
    assert fetched >= 3
    assert seconds >= 0.4 * (fetched - 1)


def test_the_user_agent_names_the_site_contact_url(settings):
    from generation.research import http_client_from_settings

    agent = settings.RESEARCH_USER_AGENT
    assert agent == f"DeepResearchBlog/0.1 (+{settings.SITE_CONTACT_URL})"
    client = http_client_from_settings()
    assert client.headers["User-Agent"] == agent
    asyncio.run(client.aclose())
