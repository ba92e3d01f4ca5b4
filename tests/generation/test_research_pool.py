"""The candidate pool against a messy web: backfill, a second round only when needed, the
straggler cut, the deadline and the relevance floor."""

from __future__ import annotations

import asyncio
import time

import pytest

from generation.exceptions import NotEnoughSources
from generation.research import Findings
from standins.web import WebStandin
from tests.standins_web_fixtures import research_on

REDIS_QUERIES = ["Redis and job queues", "RQ background jobs", "job retries backoff"]
# The corpus pages on those queries: the three on Redis and RQ, and the one on enqueueing
# background jobs after a Django transaction commits.
JOB_PAGES = {
    "redis-rq-basics",
    "redis-job-retries",
    "redis-idempotent-jobs",
    "django-transactions-on-commit",
}


def run(web: WebStandin, queries: list[str], **options) -> tuple[Findings, list[str], float]:
    """research() against `web`; (findings, progress messages, seconds it took)."""
    options = {
        "max_sources": 5,
        "min_sources": 2,
        "fetch_concurrency": 4,
        "results_per_query": 10,
        "relevance_floor": 0.25,
        "deadline_s": 20.0,
    } | options
    messages: list[str] = []
    started = time.monotonic()
    findings = research_on(
        web, queries, timeout=15, max_bytes=200_000, on_progress=messages.append, **options
    )
    return findings, messages, time.monotonic() - started


class AngleLog:
    """A `more_queries` callback that records what it was asked and answers `answer`."""

    def __init__(self, answer: list[str]) -> None:
        self.answer = answer
        self.asked: list[list[str]] = []

    async def __call__(self, tried: list[str]) -> list[str]:
        self.asked.append(tried)
        return self.answer


def test_unusable_results_are_backfilled_from_the_pool():
    angles = AngleLog(["unused"])
    with WebStandin(messy=True, max_results=20) as web:
        findings, messages, _ = run(web, REDIS_QUERIES, max_sources=4, more_queries=angles)
        paths = list(web.paths)

    kept = findings.kept
    assert len(kept) >= 3 and all(doc.url.rsplit("/", 1)[-1] in JOB_PAGES for doc in kept)
    reasons = {doc.url: doc.reason for doc in findings.docs if doc.status != "kept"}
    refused = [url for url, reason in reasons.items() if reason.startswith("refused: private")]
    assert refused, reasons
    # Refused addresses were dropped before they took a fetch slot: never fetched.
    assert not any("Fetched" in m and "http://10." in m for m in messages)
    assert any(r.startswith("refused: loopback address 127.0.0.1") for r in reasons.values())
    assert any(r == "content type image/png" for r in reasons.values())
    # Enough was found in the first round: no new queries, no second page.
    assert findings.rounds == 1 and angles.asked == []
    assert not any("pageno=2" in path for path in paths)


def test_off_topic_pages_never_fill_a_slot():
    with WebStandin() as web:
        findings, _, _ = run(web, REDIS_QUERIES, max_sources=12)
    kept = {doc.url.rsplit("/", 1)[-1] for doc in findings.kept}
    assert kept == JOB_PAGES
    off_topic = {doc.url.rsplit("/", 1)[-1]: doc.reason for doc in findings.docs}
    assert off_topic["postgres-indexes"].startswith("off-topic: ")
    assert off_topic["postgres-indexes"].endswith(
        "% as relevant as the best source (the floor is 25%)"
    )


def test_a_second_round_searches_other_angles_and_the_next_page():
    with WebStandin(corpus_dir=None, max_results=2) as web:
        for n in range(3):
            web.add_page(f"alpha-{n}", f"Alpha notes {n}", f"Alpha topic detail {n}. " * 40)
            web.add_page(f"beta-{n}", f"Beta notes {n}", f"Alpha topic seen via beta {n}. " * 40)
        angles = AngleLog(["beta notes", "alpha topic"])  # one new query, one already tried
        findings, messages, _ = run(
            web, ["alpha topic"], min_sources=4, max_sources=8, more_queries=angles
        )
        paths = list(web.paths)

    assert findings.rounds == 2
    assert angles.asked == [["alpha topic"]]
    assert findings.queries == ["alpha topic", "beta notes"]
    assert any("pageno=2" in path and "alpha" in path for path in paths)
    assert len(findings.kept) >= 4
    assert {doc.url.rsplit("/", 1)[-1][:4] for doc in findings.kept} == {"alph", "beta"}
    assert any(m.startswith("Too few usable pages: searching again") for m in messages)


def test_a_page_that_never_finishes_is_cut_as_a_straggler():
    with WebStandin(page_delay=0.1) as web:
        web.pin_result(f"{web.base_url}/hang", "The definitive guide to Redis job queues")
        findings, messages, seconds = run(web, REDIS_QUERIES, max_sources=12)

    hang = next(doc for doc in findings.docs if doc.url.endswith("/hang"))
    assert hang.status == "dropped"
    assert hang.reason.startswith("cut: still loading after")
    assert len(findings.kept) == len(JOB_PAGES)
    # Pages take ~0.1 s; the cut comes after 3x the slowest (at least 1 s), not at the
    # 15 s fetch timeout.
    assert seconds < 4, seconds
    assert any(m.startswith("Cut ") and "/hang" in m for m in messages)


def test_stragglers_are_awaited_while_too_few_pages_are_in():
    """Below min_sources a slow page may be the one that is needed: it is not cut."""
    with WebStandin(corpus_dir=None) as web:
        web.add_page("quick", "Quick", "Slow content, quickly served. " * 40)
        web.pin_result(f"{web.base_url}/slow/1.6", "Slow content")
        findings, _, seconds = run(web, ["slow content"], min_sources=2, max_sources=4)
    assert {doc.url.rsplit("/", 1)[-1] for doc in findings.kept} == {"quick", "1.6"}
    assert seconds >= 1.6


def test_the_deadline_cuts_what_is_still_loading_and_fails_clearly():
    with WebStandin(corpus_dir=None) as web:
        web.add_page("quick", "Alpha quick", "Alpha topic quick facts. " * 40)
        web.pin_result(f"{web.base_url}/hang", "Alpha topic forever")
        with pytest.raises(NotEnoughSources) as caught:
            run(web, ["alpha topic"], min_sources=2, deadline_s=1.5)

    error = caught.value
    assert not error.permanent  # time ran out: the usual retries may read the page
    message = str(error)
    assert message.startswith(
        "Not enough evidence: 1 usable source, 2 needed. Searched searxng for 'alpha topic'."
    )
    assert f"{web.base_url}/hang (cut: the research deadline passed)" in message
    hang = next(doc for doc in error.docs if doc.url.endswith("/hang"))
    assert (hang.status, hang.reason) == ("dropped", "cut: the research deadline passed")
    assert hang.transient
    assert message.endswith(
        "The research deadline passed before research was done: a retry may finish it."
    )


def test_a_deadline_passed_in_the_second_search_is_worth_retrying():
    """Time ran out while new queries were being planned (a slow model), not for want of
    pages: the shortfall is a passing one."""

    async def slow_model(tried: list[str]) -> list[str]:
        await asyncio.sleep(5)
        return ["alpha internals"]

    with WebStandin(corpus_dir=None) as web:
        web.add_page("quick", "Alpha quick", "Alpha topic quick facts. " * 40)
        with pytest.raises(NotEnoughSources) as caught:
            run(web, ["alpha topic"], min_sources=2, deadline_s=1.0, more_queries=slow_model)
    assert not caught.value.permanent
    assert str(caught.value).endswith("a retry may finish it.")
    assert not any(doc.transient for doc in caught.value.docs)  # no page was lost to time


def test_exhausted_pool_fails_after_one_second_round_naming_every_page():
    with WebStandin(corpus_dir=None) as web:
        web.pin_result("http://10.1.2.3/guide", "Alpha guide")
        web.pin_result(f"{web.base_url}/status/404", "Alpha gone")
        web.pin_result(f"{web.base_url}/image.png", "Alpha diagram")
        angles = AngleLog(["alpha internals"])
        with pytest.raises(NotEnoughSources) as caught:
            run(web, ["alpha topic"], more_queries=angles)
        searches = web.requests["search"]

    message = str(caught.value)
    assert angles.asked == [["alpha topic"]]  # one second round, no more
    assert searches == 3  # alpha topic; then alpha internals and alpha topic page 2
    assert "Searched searxng for 'alpha topic'; 'alpha internals'." in message
    assert "http://10.1.2.3/guide (refused: private address 10.1.2.3)" in message
    assert f"{web.base_url}/status/404 (HTTP 404)" in message
    assert f"{web.base_url}/image.png (content type image/png)" in message
