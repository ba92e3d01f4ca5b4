"""One rate limit per LLM endpoint and model, shared through Redis by every process.

Providers limit a key's requests and tokens a minute. Each worker retrying its own 429s
turns a burst into a storm, so every call passes one gate first:

- Two token buckets per (endpoint, model) hold the limits (`LLM_RPM`, `LLM_TPM` over
  `LLM_RATE_WINDOW_S`): full to the limit, refilling at limit/window, as providers count.
  A call reserves one request and its estimated tokens (prompt characters / 4 +
  `max_tokens`, what providers count against the limit before a reply exists) in one Lua
  script (keeping a second's refill in hand for calls that reach the endpoint late), or
  is told how long until the bucket would hold enough; it sleeps that long
  (asyncio, in the worker: not a failed attempt) and asks again. Waiting calls take tokens
  only as the bucket refills, so after a pause or an outage they go out at the limit's
  pace, never all at once.
- After the reply the call settles: the unused part of its estimate (from the reply's
  `usage`) goes back to the bucket. A reservation lives in Redis for at most the call's
  timeout; a worker killed while holding one loses nothing for good: its tokens come back
  as the bucket refills, and a settle after the expiry is ignored rather than counted twice.
- A 429 pauses the whole endpoint for every worker, for its `Retry-After` (or
  `retry-after-ms`, or the `x-ratelimit-reset-*` headers). The pause empties the model's
  bucket and starts its refill at the pause's end, so the calls waiting for it come back
  at the limit's pace, not as a burst.

The openai SDK's own retries would resend behind the gate's back, so a gated client sets
the SDK's `max_retries` to 0 and retries in llm.py: a 429 through the pause (up to
`LLM_RATE_LIMIT_RETRIES` times; it is not the call's fault), every other retryable error
up to `GENERATION_LLM_MAX_RETRIES` times, each resend passing the gate again.

What the gate sees (waits, 429s, tokens and requests a minute, time spent waiting) goes to
Redis hashes that /metrics, the overview and `queue_health` read with `rate_report`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx
import redis.asyncio as aioredis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

KEY = "drb:llmrate:"
TOTALS = KEY + "totals"  # counters since ever, for /metrics
SLOT_SECONDS = 10  # recent figures are kept in 10-second slots ...
RECENT_SLOTS = 60  # ... for 10 minutes
CHARS_PER_TOKEN = 4
DEFAULT_PAUSE = 1.0  # a 429 that says nothing about when to come back
MAX_PAUSE = 120.0  # the SDK's own cap on Retry-After
STILL_WAITING = 10.0  # a waiting call says so again every this many seconds
SEND_MARGIN = 0.02  # seconds past the computed turn, against clocks that round down
# A call reaches the endpoint a little after the gate lets it through (a busy event loop,
# a new connection), and late calls arrive bunched. The gate keeps this many seconds of
# refill in hand, so that calls up to that late still find room at the endpoint.
SEND_SLACK = 1.0
STATS = ("requests", "tokens", "waits", "wait_seconds", "call_seconds", "rate_limited")

# KEYS: bucket, pause, reservation. ARGV: request capacity, requests/s, token capacity,
# tokens/s, tokens asked, seconds the bucket outlives its last use, seconds the reservation
# lives, requests and tokens kept in hand (SEND_SLACK). A capacity of 0 = no limit.
# Returns {reserved (1) or not (0), seconds until the bucket (or the pause) lets it through}.
ACQUIRE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1e6
local paused_until = tonumber(redis.call('HGET', KEYS[2], 'until')) or 0
if now < paused_until then
  return {0, tostring(paused_until - now)}
end
local rcap, rrate = tonumber(ARGV[1]), tonumber(ARGV[2])
local tcap, trate = tonumber(ARGV[3]), tonumber(ARGV[4])
local cost = tonumber(ARGV[5])
local rkeep, tkeep = tonumber(ARGV[8]), tonumber(ARGV[9])
local state = redis.call('HMGET', KEYS[1], 'r', 't', 'ts')
local ts = tonumber(state[3]) or now
local elapsed = math.max(0, now - ts)
local r = math.min(rcap, (tonumber(state[1]) or rcap) + elapsed * rrate)
local t = math.min(tcap, (tonumber(state[2]) or tcap) + elapsed * trate)
local wait = 0
if rcap > 0 and r < 1 + rkeep then wait = math.max(wait, (1 + rkeep - r) / rrate) end
if tcap > 0 and t < cost + tkeep then wait = math.max(wait, (cost + tkeep - t) / trate) end
if wait == 0 then
  r, t = r - 1, t - cost
  redis.call('SET', KEYS[3], tostring(cost), 'EX', tonumber(ARGV[7]))
end
redis.call('HSET', KEYS[1], 'r', tostring(r), 't', tostring(t), 'ts', tostring(math.max(ts, now)))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
return {wait == 0 and 1 or 0, tostring(wait)}
"""

# KEYS: reservation, bucket. ARGV: token capacity, tokens used. Gives back what the
# reservation held beyond what the call used (or takes the excess); 0 when it expired.
SETTLE = """
local held = tonumber(redis.call('GET', KEYS[1]))
if not held then return 0 end
redis.call('DEL', KEYS[1])
local t = tonumber(redis.call('HGET', KEYS[2], 't'))
if t then
  t = math.min(tonumber(ARGV[1]), t + held - tonumber(ARGV[2]))
  redis.call('HSET', KEYS[2], 't', tostring(t))
end
return 1
"""

# KEYS: pause, bucket. ARGV: seconds. Pauses the endpoint (never shortens a pause),
# empties the bucket and starts its refill when the pause ends, so that the calls waiting
# for it go out at the limit's pace afterwards.
PAUSE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1e6
local ends = math.max(now + tonumber(ARGV[1]), tonumber(redis.call('HGET', KEYS[1], 'until')) or 0)
redis.call('HSET', KEYS[1], 'until', tostring(ends))
redis.call('EXPIRE', KEYS[1], math.ceil(ends - now) + 60)
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[2], 'r', '0', 't', '0', 'ts', tostring(ends))
end
return tostring(ends - now)
"""


@dataclass(frozen=True)
class Limit:
    """Requests and tokens per window for one model (None = not limited)."""

    requests: int | None
    tokens: int | None
    window: float

    def per_minute(self, value: int | None) -> float | None:
        return None if value is None else value * 60 / self.window


def limit_for(model: str, table: Mapping[str, int]) -> int | None:
    """The model's own limit, else its family's (a dated snapshot), else `*`'s."""
    if model in table:
        return table[model]
    families = [name for name in table if name != "*" and model.startswith(f"{name}-")]
    return table[max(families, key=len)] if families else table.get("*")


def endpoint_of(base_url: str) -> str:
    """An endpoint's name in keys and labels: scheme, host, port and path, no credentials."""
    url = httpx.URL(base_url)
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}{url.path.rstrip('/')}"


def estimate_tokens(messages: Sequence[Mapping[str, object]], max_tokens: int) -> int:
    """What a provider counts against the limit before replying: the prompt's characters
    / 4 (its own estimate) plus every token the reply may use."""
    chars = sum(len(str(message.get("content") or "")) for message in messages)
    return math.ceil(chars / CHARS_PER_TOKEN) + max_tokens


def pause_seconds(headers: Mapping[str, str]) -> float:
    """How long a 429 asks everyone to stay away: retry-after-ms, Retry-After (seconds or
    a date), else the longest x-ratelimit-reset-* of an exhausted limit; capped."""
    seconds = _retry_after(headers)
    if seconds is None:
        resets = [
            _duration(headers.get(f"x-ratelimit-reset-{kind}", ""))
            for kind in ("requests", "tokens")
            if headers.get(f"x-ratelimit-remaining-{kind}", "0") == "0"
        ]
        seconds = max((s for s in resets if s is not None), default=None)
    return min(max(seconds if seconds is not None else DEFAULT_PAUSE, 0.0), MAX_PAUSE)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        if headers.get("retry-after-ms"):
            return float(headers["retry-after-ms"]) / 1000
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            return float(value)
        except ValueError:
            return parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError):
        return None


def _duration(text: str) -> float | None:
    """OpenAI's reset durations: "1s", "6m0s", "20ms", "1h2m3.5s"."""
    total, number, rest = 0.0, "", text.strip()
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    while rest:
        if rest[0].isdigit() or rest[0] == ".":
            number, rest = number + rest[0], rest[1:]
            continue
        unit = "ms" if rest.startswith("ms") else rest[0]
        if unit not in units or not number:
            return None
        total, number, rest = total + float(number) * units[unit], "", rest[len(unit) :]
    return total if text.strip() and not number else None


@dataclass
class Ticket:
    """One call's place at the gate: its reservation and the time it waited."""

    model: str
    reservation: str
    tokens: int
    waited: float = 0.0
    started: float = 0.0
    polls: int = 0


class RateLimiter:
    """The gate of one endpoint: limits per model, state in Redis (one client per loop)."""

    def __init__(
        self,
        *,
        redis_url: str,
        base_url: str,
        requests: Mapping[str, int],
        tokens: Mapping[str, int],
        window: float,
        reservation_ttl: float,
    ) -> None:
        self.redis_url = redis_url
        self.endpoint = endpoint_of(base_url)
        self.requests = dict(requests)
        self.tokens = dict(tokens)
        self.window = window
        self.reservation_ttl = reservation_ttl

    @classmethod
    def from_settings(cls, *, base_url: str, timeout: float) -> RateLimiter:
        from django.conf import settings

        return cls(
            redis_url=settings.REDIS_URL,
            base_url=base_url,
            requests=settings.LLM_RPM,
            tokens=settings.LLM_TPM,
            window=settings.LLM_RATE_WINDOW_S,
            reservation_ttl=timeout + 30,
        )

    def limit(self, model: str) -> Limit:
        return Limit(limit_for(model, self.requests), limit_for(model, self.tokens), self.window)

    def connect(self) -> Gate:
        """The gate for the running event loop (an asyncio Redis client cannot cross loops)."""
        return Gate(self, aioredis.Redis.from_url(self.redis_url))

    def bucket_key(self, model: str) -> str:
        return f"{KEY}{self.endpoint}|{model}:bucket"

    @property
    def pause_key(self) -> str:
        return f"{KEY}{self.endpoint}:pause"


class Gate:
    """Acquire before sending, settle after; `rate_limited` when the endpoint said 429."""

    def __init__(self, limiter: RateLimiter, client: aioredis.Redis) -> None:
        self.limiter = limiter
        self.redis = client
        self._acquire = client.register_script(ACQUIRE)
        self._settle = client.register_script(SETTLE)
        self._pause = client.register_script(PAUSE)

    async def aclose(self) -> None:
        await self.redis.aclose()

    async def acquire(
        self, model: str, tokens: int, *, on_wait: Callable[[str], None] | None = None
    ) -> Ticket:
        """Wait (asyncio) until this call may be sent, holding its reservation."""
        limiter, limit = self.limiter, self.limiter.limit(model)
        # Kept in hand: the refill of SEND_SLACK seconds, at most a quarter of the bucket.
        keep_requests = min(
            (limit.requests or 0) / limit.window * SEND_SLACK, (limit.requests or 0) / 4
        )
        keep_tokens = min((limit.tokens or 0) / limit.window * SEND_SLACK, (limit.tokens or 0) / 4)
        # A call larger than the bucket could never go: it asks for all there is to ask.
        cost = min(tokens, int(limit.tokens - keep_tokens)) if limit.tokens else tokens
        ticket = Ticket(model, uuid.uuid4().hex, cost, started=time.monotonic())
        args = [
            limit.requests or 0,
            (limit.requests or 0) / limit.window,
            limit.tokens or 0,
            (limit.tokens or 0) / limit.window,
            cost,
            math.ceil(limit.window) + 60,
            math.ceil(limiter.reservation_ttl),
            keep_requests,
            keep_tokens,
        ]
        keys = [limiter.bucket_key(model), limiter.pause_key, _reservation_key(ticket)]
        while True:
            try:
                reserved, wait = await self._acquire(keys=keys, args=args)
            except (RedisError, OSError) as exc:
                # The limit is a courtesy to the endpoint; a Redis hiccup must not fail
                # the post. The call goes unmetered (and a 429 still pauses this caller).
                logger.warning("LLM rate limit unavailable, sending unmetered: %s", exc)
                break
            if reserved:
                break
            # Until the bucket holds enough (or the pause ends); others may take it first,
            # then this call asks again. A little jitter spreads the askers out.
            await self._wait(
                ticket, float(wait) * (1 + 0.1 * random.random()) + SEND_MARGIN, on_wait
            )
        await self._count(model, requests=1, waits=1 if ticket.waited else 0)
        return ticket

    async def _wait(
        self, ticket: Ticket, seconds: float, on_wait: Callable[[str], None] | None
    ) -> None:
        """Sleep in the event loop; say so when a call starts waiting, and every
        STILL_WAITING seconds after that."""
        said = math.floor(ticket.waited / STILL_WAITING)
        ticket.waited += seconds
        message = ""
        if ticket.polls == 0:
            message = f"waiting {math.ceil(seconds)} s for the rate limit"
        elif math.floor(ticket.waited / STILL_WAITING) > said:
            message = f"still waiting for the rate limit: {ticket.waited:.0f} s so far"
        ticket.polls += 1
        if message:
            logger.info("LLM %s (model %s at %s)", message, ticket.model, self.limiter.endpoint)
            if on_wait is not None:
                on_wait(f"{message} ({ticket.model})")
        await asyncio.sleep(seconds)

    async def settle(self, ticket: Ticket, *, used: int) -> None:
        """The call is answered: give back what its estimate held beyond `used` tokens."""
        limit = self.limiter.limit(ticket.model)
        keys = [_reservation_key(ticket), self.limiter.bucket_key(ticket.model)]
        try:
            await self._settle(keys=keys, args=[limit.tokens or 0, used])
        except (RedisError, OSError) as exc:  # the reservation expires on its own
            logger.warning("LLM rate limit not settled: %s", exc)
        await self._finish(ticket, tokens=used)

    async def rate_limited(self, ticket: Ticket, headers: Mapping[str, str]) -> float:
        """The endpoint answered 429: pause it for everyone; the call tries again later."""
        seconds = pause_seconds(headers)
        keys = [self.limiter.pause_key, self.limiter.bucket_key(ticket.model)]
        try:
            paused = float(await self._pause(keys=keys, args=[seconds]))
            await self.redis.delete(_reservation_key(ticket))
        except (RedisError, OSError) as exc:
            logger.warning("LLM rate limit pause not shared: %s", exc)
            await asyncio.sleep(seconds)  # this caller, at least, stays away
            paused = seconds
        logger.warning(
            "LLM 429 from %s (model %s): every worker pauses %.1f s",
            self.limiter.endpoint,
            ticket.model,
            paused,
        )
        await self._finish(ticket, tokens=0, rate_limited=1)
        return paused

    async def abandon(self, ticket: Ticket) -> None:
        """The call failed otherwise: its reservation stands (the provider may have counted
        it) and runs out with its expiry."""
        await self._finish(ticket, tokens=0)

    async def _finish(self, ticket: Ticket, *, tokens: int, rate_limited: int = 0) -> None:
        seconds = time.monotonic() - ticket.started
        await self._count(
            ticket.model,
            tokens=tokens,
            rate_limited=rate_limited,
            wait_seconds=ticket.waited,
            call_seconds=seconds,
        )

    async def _count(self, model: str, **amounts: float) -> None:
        """Add to the counters /metrics reads; a Redis hiccup loses figures, never a call."""
        slot = f"{KEY}stats:{int(time.time() // SLOT_SECONDS)}"
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for name, amount in amounts.items():
                    if amount:
                        field = _field(self.limiter.endpoint, model, name)
                        pipe.hincrbyfloat(TOTALS, field, amount)
                        pipe.hincrbyfloat(slot, field, amount)
                pipe.expire(slot, SLOT_SECONDS * (RECENT_SLOTS + 1))
                await pipe.execute()
        except (RedisError, OSError) as exc:
            logger.warning("LLM rate figures not recorded: %s", exc)


def _reservation_key(ticket: Ticket) -> str:
    return f"{KEY}res:{ticket.reservation}"


def _field(endpoint: str, model: str, name: str) -> str:
    return json.dumps([endpoint, model, name])


# --- Reads, for /metrics, the overview and queue_health (a synchronous Redis client) ------


@dataclass(frozen=True)
class ModelRate:
    """What one (endpoint, model) used lately and in all, against its limits a minute."""

    endpoint: str
    model: str
    tokens_last_minute: float
    requests_last_minute: float
    tpm_limit: float | None
    rpm_limit: float | None
    totals: dict[str, float]
    recent: dict[str, float]  # the last 10 minutes

    @property
    def wait_share(self) -> float:
        """Of the time calls took lately (waits included), the share spent waiting."""
        spent = self.recent.get("call_seconds", 0.0)
        return self.recent.get("wait_seconds", 0.0) / spent if spent else 0.0


def rate_report(
    connection: object,
    *,
    requests: Mapping[str, int],
    tokens: Mapping[str, int],
    window: float,
    now: float | None = None,
) -> list[ModelRate]:
    """Every (endpoint, model) the gate has seen, with its figures and limits."""
    current = int((now or time.time()) // SLOT_SECONDS)
    slots = [f"{KEY}stats:{current - back}" for back in range(RECENT_SLOTS)]
    with connection.pipeline(transaction=False) as pipe:  # type: ignore[attr-defined]
        pipe.hgetall(TOTALS)
        for slot in slots:
            pipe.hgetall(slot)
        totals_raw, *recent_raw = pipe.execute()
    minute = 60 // SLOT_SECONDS
    totals = _by_model(totals_raw)
    last_minute, recent = _by_model(*recent_raw[:minute]), _by_model(*recent_raw)
    report = []
    for endpoint, model in sorted(totals):
        limit = Limit(limit_for(model, requests), limit_for(model, tokens), window)
        seen = last_minute.get((endpoint, model), {})
        report.append(
            ModelRate(
                endpoint,
                model,
                tokens_last_minute=seen.get("tokens", 0.0),
                requests_last_minute=seen.get("requests", 0.0),
                tpm_limit=limit.per_minute(limit.tokens),
                rpm_limit=limit.per_minute(limit.requests),
                totals={name: totals[endpoint, model].get(name, 0.0) for name in STATS},
                recent=recent.get((endpoint, model), {}),
            )
        )
    return report


def report_from_settings(connection: object) -> list[ModelRate]:
    """`rate_report` with the limits and window of Django settings."""
    from django.conf import settings

    return rate_report(
        connection,
        requests=settings.LLM_RPM,
        tokens=settings.LLM_TPM,
        window=settings.LLM_RATE_WINDOW_S,
    )


def _by_model(*hashes: dict) -> dict[tuple[str, str], dict[str, float]]:
    summed: dict[tuple[str, str], dict[str, float]] = {}
    for raw in hashes:
        for field, value in raw.items():
            endpoint, model, name = json.loads(field)
            row = summed.setdefault((endpoint, model), {})
            row[name] = row.get(name, 0.0) + float(value)
    return summed
