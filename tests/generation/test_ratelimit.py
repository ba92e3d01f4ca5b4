"""The shared LLM rate limit: real Redis, the real openai SDK over HTTP, and a stand-in
that enforces a provider's requests and tokens per window (429 with Retry-After over it)."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.envtools import parse_rate_limits
from generation import ratelimit
from generation.exceptions import LLMError
from generation.operations import health
from generation.pipeline.llm import LLMClient
from generation.ratelimit import RateLimiter, Ticket, limit_for, pause_seconds
from standins.llm_server import LLMStandin
from tests.generation.test_llm import make_client, run
from tests.generation.test_metrics import TOKEN, scrape, value
from tests.workers import ROOT, wait_for


def gated(server: LLMStandin, *, rpm=None, tpm=None, window=1.0, **overrides) -> LLMClient:
    from django.conf import settings

    limiter = RateLimiter(
        redis_url=settings.REDIS_URL,
        base_url=server.base_url,
        requests={"*": rpm} if rpm else {},
        tokens={"*": tpm} if tpm else {},
        window=window,
        reservation_ttl=10,
    )
    return make_client(server, limiter=limiter, **overrides)


def many(count: int, *, start: float = 0.0):
    async def calls(llm: LLMClient):
        async def one(index: int) -> str:
            await asyncio.sleep(start * index)
            return await llm.text(system="s", user=f"call {index}", stage="sections")

        return await asyncio.gather(*(one(i) for i in range(count)))

    return calls


# --- Settings, limits, headers -------------------------------------------------------------


def test_limits_parse_per_model_with_a_default_and_refuse_bad_values_in_one_line():
    assert parse_rate_limits("gpt-4.1=500, *=3000", variable="LLM_RPM") == {
        "gpt-4.1": 500,
        "*": 3000,
    }
    assert parse_rate_limits("500", variable="LLM_RPM") == {"*": 500}
    assert parse_rate_limits("", variable="LLM_TPM") == {}
    for bad in ("gpt-4.1=fast", "gpt-4.1=0", "=5", "gpt-4.1=500:30000"):
        with pytest.raises(ImproperlyConfigured) as caught:
            parse_rate_limits(bad, variable="LLM_TPM")
        message = str(caught.value)
        assert "LLM_TPM" in message and repr(bad) in message and "\n" not in message


def test_a_model_takes_its_own_limit_then_its_familys_then_the_default():
    table = {"gpt-4o": 100, "gpt-4o-mini": 500, "*": 7}
    assert limit_for("gpt-4o-mini-2024-07-18", table) == 500
    assert limit_for("gpt-4o", table) == 100
    assert limit_for("llama3.1:8b", table) == 7
    assert limit_for("llama3.1:8b", {"gpt-4o": 1}) is None


def test_a_429_says_how_long_to_pause_in_any_of_the_providers_headers():
    assert pause_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert pause_seconds({"retry-after": "2"}) == 2.0
    reset = {
        "x-ratelimit-remaining-requests": "12",
        "x-ratelimit-reset-requests": "1s",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "1m6.5s",
    }
    assert pause_seconds(reset) == 66.5
    assert pause_seconds({"x-ratelimit-reset-tokens": "20ms"}) == 0.02
    assert pause_seconds({"retry-after": "100000"}) == ratelimit.MAX_PAUSE
    assert pause_seconds({}) == ratelimit.DEFAULT_PAUSE


# --- The gate against a limiting endpoint --------------------------------------------------


def test_without_the_gate_a_burst_turns_into_429s():
    with LLMStandin(rpm=5, window=1.0) as server:
        client = make_client(server, concurrency=15, max_retries=2)
        with pytest.raises(LLMError, match="HTTP 429"):
            run(client, many(15))
        assert server.over_limit >= 10  # each client retried on its own, into the limit


def test_with_the_gate_a_burst_waits_its_turn_and_the_endpoint_never_refuses():
    notes: list[str] = []
    with LLMStandin(rpm=5, tpm=2000, window=1.0) as server:
        client = gated(server, rpm=5, tpm=2000, concurrency=15, max_retries=0, on_wait=notes.append)
        started = time.monotonic()
        assert len(run(client, many(15))) == 15
        elapsed = time.monotonic() - started
        assert server.over_limit == 0
        assert server.total == 15  # no request was wasted
    assert elapsed >= 1.9  # 5 at once, then 5 a second
    assert any(
        re.fullmatch(r"waiting \d+ s for the rate limit \(standin-writer\)", note) for note in notes
    )


def test_tokens_are_reserved_before_and_settled_after_so_the_limit_is_used_fully():
    # Each call reserves ~400 tokens (max_tokens) but uses ~25: settling gives the rest
    # back, so 20 calls fit in far less than the 8000 tokens their estimates add up to.
    with LLMStandin(tpm=1000, window=2.0) as server:
        client = gated(server, tpm=1000, window=2.0, concurrency=4, max_retries=0)

        async def calls(llm: LLMClient):
            jobs = [
                llm.text(system="s", user=f"u{i}", stage="t", max_tokens=400) for i in range(20)
            ]
            return await asyncio.gather(*jobs)

        started = time.monotonic()
        assert len(run(client, calls)) == 20
        assert time.monotonic() - started < 6  # unsettled, 8000 tokens would take 14 s
        assert server.over_limit == 0


def test_a_429_pauses_every_worker_for_its_retry_after(redis_conn):
    with LLMStandin() as server:
        server.inject(status=429, retry_after=1.0)
        first, second = gated(server), gated(server)  # two workers: two gates, one Redis

        async def both():
            async def later():
                await asyncio.sleep(0.3)
                return await second.text(system="s", user="later", stage="t")

            async with first, second:
                return await asyncio.gather(first.text(system="s", user="u", stage="t"), later())

        asyncio.run(both())
        refused, *rest = server.requests
        assert refused.status == 429 and [r.status for r in rest] == [200, 200]
        assert all(r.time - refused.time >= 0.95 for r in rest)  # nobody sent in the pause
    rows = ratelimit.rate_report(redis_conn, requests={}, tokens={}, window=60)
    assert sum(row.totals["rate_limited"] for row in rows) == 1


def test_after_an_outage_waiting_calls_resume_at_the_limits_pace_not_all_at_once():
    with LLMStandin(rpm=4, window=1.0) as server:
        server.inject(status=429, retry_after=1.5)  # the endpoint turns everyone away
        client = gated(server, rpm=4, concurrency=10, max_retries=0)
        assert len(run(client, many(10))) == 10
    answered = sorted(r.time for r in server.requests if r.status == 200)
    assert len(answered) == 10
    # 4 a second: ten calls take over two seconds, and no half second sees more than the
    # limit's 4 (its share, the refill the gate keeps in hand and scheduling jitter), where
    # all at once would be 10; arrival times jitter, so single gaps are not compared.
    assert answered[-1] - answered[0] >= 0.7 * 0.25 * (len(answered) - 1)
    busiest = max(sum(1 for t in answered if start <= t < start + 0.5) for start in answered)
    assert busiest <= 4
    assert server.over_limit <= 1  # at most one per pause, as a provider would see it


def test_retries_pass_the_gate_and_429s_have_their_own_allowance():
    with LLMStandin() as server:
        server.inject(status=500, retry_after=None)
        assert run(
            gated(server, max_retries=1), lambda llm: llm.text(system="s", user="u", stage="t")
        )
        assert [r.status for r in server.requests] == [500, 200]  # one resend, ours

        server.reset()
        server.inject(status=429, retry_after=0.1, times=None)
        client = gated(server, max_retries=0, rate_limit_retries=2)
        with pytest.raises(LLMError, match=r"HTTP 429 \(retried 2 times\)") as caught:
            run(client, lambda llm: llm.text(system="s", user="u", stage="t"))
        assert not caught.value.permanent
        assert server.total == 3  # two 429s waited out, the third one ends the call


def test_calls_go_unmetered_rather_than_fail_when_redis_is_unreachable():
    with LLMStandin() as server:
        limiter = RateLimiter(
            redis_url="redis://127.0.0.1:9/0",  # nothing listens on the discard port
            base_url=server.base_url,
            requests={"*": 1},
            tokens={},
            window=60,
            reservation_ttl=10,
        )
        client = make_client(server, limiter=limiter)
        assert run(client, many(3)) and server.total == 3


KILLED_HOLDER = """
import asyncio, sys
from generation.ratelimit import RateLimiter

async def main():
    limiter = RateLimiter(redis_url=sys.argv[1], base_url="http://127.0.0.1:9/v1",
                          requests={}, tokens={"*": 1000}, window=2.0, reservation_ttl=3)
    ticket = await limiter.connect().acquire("standin-writer", 1000)
    print(ticket.reservation, flush=True)
    await asyncio.sleep(120)

asyncio.run(main())
"""


def test_a_worker_killed_holding_a_reservation_leaks_no_capacity(redis_conn, settings):
    limiter = RateLimiter(
        redis_url=settings.REDIS_URL,
        base_url="http://127.0.0.1:9/v1",
        requests={},
        tokens={"*": 1000},
        window=2.0,
        reservation_ttl=3,
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", KILLED_HOLDER, settings.REDIS_URL],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        reservation = holder.stdout.readline().strip()  # it holds the whole bucket
        assert reservation
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    key = f"{ratelimit.KEY}res:{reservation}"
    assert 0 < redis_conn.ttl(key) <= 3

    async def take_all() -> Ticket:
        gate = limiter.connect()
        try:
            return await gate.acquire("standin-writer", 1000)
        finally:
            await gate.aclose()

    ticket = asyncio.run(take_all())  # capacity comes back at the limit's pace
    assert 0.5 < ticket.waited <= 2.5  # the 2 s refill, plus the gate's jitter
    wait_for(lambda: not redis_conn.exists(key), timeout=10)  # the reservation expired
    bucket = limiter.bucket_key("standin-writer")
    level = redis_conn.hget(bucket, "t")

    async def late_settle() -> None:
        gate = limiter.connect()
        dead = Ticket("standin-writer", reservation, 1000)
        await gate.settle(dead, used=0)
        await gate.aclose()

    asyncio.run(late_settle())
    assert redis_conn.hget(bucket, "t") == level  # nothing given back twice


# --- What operators see ----------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_overview_and_health_show_waits_429s_and_tokens_against_the_limit(
    client, admin_client_, settings, redis_conn
):
    settings.METRICS_TOKEN = TOKEN
    with LLMStandin(rpm=2, window=1.0) as server:
        server.inject(status=429, retry_after=0.2)
        settings.LLM_RPM, settings.LLM_TPM, settings.LLM_RATE_WINDOW_S = {"*": 2}, {}, 1.0
        run(gated(server, rpm=2, concurrency=6, max_retries=0), many(6))
        endpoint = ratelimit.endpoint_of(server.base_url)
        refused = 1 + server.over_limit  # the injected 429, and any late send's
    samples = scrape(client)
    labels = {"endpoint": endpoint, "model": "standin-writer"}
    assert value(samples, "drb_llm_rate_waits_total", **labels) >= 3
    assert value(samples, "drb_llm_rate_wait_seconds_total", **labels) > 1
    assert value(samples, "drb_llm_rate_limited_total", **labels) == refused
    assert value(samples, "drb_llm_requests_per_minute", **labels) == 6 + refused
    assert value(samples, "drb_llm_requests_per_minute_limit", **labels) == 120
    assert value(samples, "drb_llm_tokens_per_minute", **labels) > 0
    share = value(samples, "drb_llm_rate_wait_share", **labels)
    assert 0.2 < share < 1

    page = admin_client_.get("/admin/generation/overview/").content.decode()
    assert 'id="overview-rate-limits"' in page and "standin-writer" in page

    settings.LLM_RATE_WAIT_WARN_SHARE = share - 0.1
    check = health.check_llm_rate()
    assert check.level == health.Level.WARNING and "more workers would not help" in check.summary
    # The stand-in answers at once, so nearly all of a call's time is its wait (over 99%
    # on a busy machine): the check stays quiet when the share is just under the line.
    settings.LLM_RATE_WAIT_WARN_SHARE = share + 0.001
    assert health.check_llm_rate().level == health.Level.OK


def test_health_is_quiet_without_llm_calls(redis_conn):
    check = health.check_llm_rate()
    assert check.level == health.Level.OK and "no LLM calls" in check.summary


def test_every_process_names_an_endpoint_alike_and_without_credentials(settings):
    """Limiters built from settings in any process share one bucket per endpoint."""
    one = RateLimiter.from_settings(base_url="http://user:pw@llm.example:8000/v1/", timeout=5)
    two = RateLimiter.from_settings(base_url="http://llm.example:8000/v1", timeout=5)
    assert one.bucket_key("m") == two.bucket_key("m")
    assert "pw" not in one.bucket_key("m")
