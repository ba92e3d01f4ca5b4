"""Hostile pages through the real research path: each ends in bounded time and memory and
is recorded with its fate and reason; a run whose results are nearly all hostile still
writes its post from the two good pages.

Each page is the only search hit of a research session (search, pool, guard, fetch,
decode, extract, exactly as a run does it). Memory is the peak resident size of this
process while the session runs (VmHWM, reset before it starts) over its size before,
and the peak of Python allocations (tracemalloc).
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from generation.exceptions import NotEnoughSources
from generation.execution import service
from generation.models import ResearchSource, RunStatus
from generation.research import make_http_client, research
from generation.research.base import KEPT, SourceDoc
from generation.research.providers import SearxngProvider
from standins.llm_server import LLMStandin
from standins.web import WebStandin
from standins.writer import WriterResponder

TIMEOUT = 1.5  # the fetch timeout (RESEARCH_FETCH_TIMEOUT) for this suite
MARGIN = 1.5  # seconds of slack over it: search, extraction, teardown
CAP = 2_000_000  # RESEARCH_MAX_BYTES
MEMORY_LIMIT_MB = 50


@dataclass(frozen=True)
class Hostile:
    name: str
    path: str
    status: str  # how the run must record it
    reason: str  # the start of its recorded reason


PAGES = [
    Hostile("oversized, Content-Length", "/big?length=yes", "failed", "too large: 3000000 bytes"),
    Hostile("oversized, no Content-Length", "/big?length=no", "failed", "too large: more than"),
    Hostile("image/png", "/image.png", "failed", "content type image/png"),
    Hostile("octet-stream", "/binary/octet-stream", "failed", "content type application/oct"),
    Hostile("PDF", "/binary/pdf", "failed", "content type application/pdf"),
    Hostile("zero bytes", "/empty", "dropped", "too short: 0 characters"),
    # Readable once decoded right: kept, and never as mojibake (checked below).
    Hostile("latin-1 declared utf-8", "/misencoded/latin1", "kept", ""),
    Hostile("utf-16 declared utf-8", "/misencoded/utf16", "kept", ""),
    Hostile("unknown charset name", "/misencoded/badcharset", "kept", ""),
    Hostile("gzip bomb, 1 GiB streamed", "/bomb/stream?mib=1024", "failed", "too large: more"),
    Hostile("slow-loris, 1 byte/s", "/slowloris?every=1", "failed", "timeout"),
    Hostile("accepts, never answers", "/silent", "failed", "timeout"),
    Hostile("headers, then stalls", "/hang", "failed", "timeout"),
]


@pytest.fixture
def web() -> Iterator[WebStandin]:
    with WebStandin(corpus_dir=None) as standin:
        yield standin


def _status() -> dict[str, int]:
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) * 1024
    return fields


def measured(work) -> tuple[object, float, float, float]:
    """(result or exception, seconds, peak RSS growth MB, peak Python allocations MB)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # resets VmHWM to the current RSS
    before = _status()["VmRSS"]
    tracemalloc.start()
    started = time.monotonic()
    try:
        outcome = work()
    except Exception as exc:
        outcome = exc
    seconds = time.monotonic() - started
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = _status()["VmHWM"] - before
    return outcome, seconds, rss / 1e6, traced / 1e6


def research_one(web: WebStandin) -> list[SourceDoc]:
    """One research session whose only hit is the pinned page; every doc it recorded."""

    async def go() -> list[SourceDoc]:
        async with make_http_client(
            allow_hosts=[web.host_port], user_agent="test", timeout=TIMEOUT, max_bytes=CAP
        ) as http:
            try:
                found = await research(
                    ["redis job queues"],
                    http=http,
                    providers=[SearxngProvider(web.base_url)],
                    max_sources=3,
                    fetch_concurrency=2,
                    results_per_query=5,
                    min_sources=1,
                    deadline_s=10,
                    max_bytes=CAP,
                )
            except NotEnoughSources as exc:
                return exc.docs
            return found.docs

    return asyncio.run(go())


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_a_hostile_page_ends_in_bounded_time_and_memory_with_a_reason(
    page, web, reliability_report
):
    url = f"{web.base_url}{page.path}"
    web.pin_result(url, "Redis job queues: the definitive guide", "redis job queues")

    docs, seconds, rss_mb, traced_mb = measured(lambda: research_one(web))

    assert isinstance(docs, list), docs  # research itself never crashed
    (doc,) = [d for d in docs if d.url == url]
    assert (doc.status, doc.reason[: len(page.reason)]) == (page.status, page.reason)
    if doc.status == KEPT:
        assert "Café naïve résumé" in doc.text and "\ufffd" not in doc.text, doc.text[:80]
    else:
        assert doc.text == ""
    assert seconds < TIMEOUT + MARGIN, f"{seconds:.1f}s"
    assert rss_mb < MEMORY_LIMIT_MB and traced_mb < MEMORY_LIMIT_MB, (rss_mb, traced_mb)
    reliability_report.row(
        "Hostile pages",
        page=page.name,
        seconds=round(seconds, 2),
        peak_mb=round(max(rss_mb, traced_mb), 1),
        outcome=f"{doc.status}: {doc.reason or 'text decoded right'}",
    )


GOOD = {
    "redis-queue-basics": (
        "Redis job queues: the basics",
        "A Redis job queue keeps job identifiers in a Redis list, and workers pop them "
        "off in order so the queue stays simple and fast. "
        "Each worker process takes one job at a time from the queue it listens on. "
        "A job that raises an exception is moved to a failed job registry for inspection. "
        "Failed jobs can be retried from the registry once the cause has been fixed. "
        "Redis keeps the queue in memory, so enqueueing a job takes well under a millisecond.",
    ),
    "redis-queue-workers": (
        "Workers and retries in Redis job queues",
        "Redis job queue workers acknowledge a job by removing it from a processing list "
        "once it finishes, so the jobs of a crashed worker can be found and queued again. "
        "A scheduler moves delayed jobs into the queue when their time comes. "
        "Retry intervals grow after each failed attempt so that a broken dependency is not "
        "hammered by the workers of the Redis job queue. "
        "Job timeouts stop a worker from holding a job forever when the code hangs.",
    ),
}


def test_a_run_whose_results_are_nearly_all_hostile_writes_from_the_two_good_pages(
    web, settings, django_user_model, reliability_report, db
):
    for slug, (title, text) in GOOD.items():
        web.add_page(slug, title, text, tags=["redis", "queues"])
    hostile = [f"{web.base_url}{page.path}" for page in PAGES if page.status != KEPT]
    for url in hostile:
        web.pin_result(url, "Redis job queues explained", "redis job queues workers")
    author = django_user_model.objects.create_user(username="writer", password="unused-pw-1")
    with LLMStandin(WriterResponder()) as llm:
        settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY = llm.base_url, "test-key"
        settings.GENERATION_MODEL, settings.GENERATION_FAST_MODEL = "standin-writer", "standin-fast"
        settings.RESEARCH_PROVIDERS, settings.SEARXNG_URL = ["searxng"], web.base_url
        settings.RESEARCH_ALLOW_HOSTS = [web.host_port]
        settings.RESEARCH_FETCH_TIMEOUT, settings.RESEARCH_MAX_BYTES = TIMEOUT, CAP
        settings.RESEARCH_MIN_SOURCES, settings.RESEARCH_FETCH_CONCURRENCY = 2, 4
        settings.RESEARCH_DEADLINE_S, settings.RESEARCH_RESULTS_PER_QUERY = 15, 20

        started = time.monotonic()
        (run,) = service.generate_posts(count=1, topic="Redis job queues", author=author)
        seconds = time.monotonic() - started

    assert run.status == RunStatus.SUCCEEDED, run.errors
    sources = {s.url: s for s in ResearchSource.objects.filter(run=run)}
    kept = sorted(url for url, s in sources.items() if s.status == "kept")
    assert kept == sorted(web.page_url(slug) for slug in GOOD)
    tried = [url for url in hostile if url in sources]
    for url in tried:
        assert sources[url].status in ("failed", "dropped") and sources[url].reason, url
    assert len(tried) >= 8  # the rest were never needed once the good pages were in
    assert set(run.post.sources.values_list("url", flat=True)) <= set(kept)
    reliability_report.row(
        "Hostile pages",
        page=f"full run: {len(hostile)} hostile + 2 good results",
        seconds=round(seconds, 2),
        peak_mb="",
        outcome=f"post written from {len(kept)} sources; {len(tried)} hostile pages recorded",
    )
