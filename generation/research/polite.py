"""Good manners towards the sites research reads: robots.txt, and few fetches per host.

- robots.txt is read once per site (protego), kept in Redis for a day, and asked about
  every page for our User-Agent's product token; a site without one (or whose robots.txt
  cannot be read) allows everything, and that answer is kept for an hour.
- At most `per_host` page fetches run at once against one host, counted in Redis, so
  the limit holds across every worker process; a slot not given back (a killed worker)
  frees itself after `slot_s`.
- A Crawl-delay is honoured, up to `max_delay` seconds, between the starts of two
  fetches from one host, across workers too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

from protego import Protego
from redis.asyncio import Redis
from redis.exceptions import RedisError

from generation.exceptions import FetchRefused
from generation.research.base import FetchFailed

logger = logging.getLogger(__name__)
PREFIX = "research:polite"
ROBOTS_TTL_S = 24 * 3600
ROBOTS_MISSING_TTL_S = 3600
POLL_S = 0.05
RobotsReader = Callable[[str], Awaitable[str | None]]  # robots.txt URL -> its text, or None

# Take a slot for a host when fewer than the limit are taken and its crawl delay has
# passed: 0 when taken, else the milliseconds to wait before asking again.
_TAKE = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 50 end
local next_start = tonumber(redis.call('GET', KEYS[2]) or '0')
if now < next_start then return math.max(math.ceil(next_start - now), 1) end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if tonumber(ARGV[5]) > 0 then redis.call('SET', KEYS[2], now + ARGV[5], 'PX', ARGV[5]) end
return 0
"""


def product_token(user_agent: str) -> str:
    """The name robots.txt groups match: "DeepResearchBlog" of "DeepResearchBlog/0.1 (+…)"."""
    return user_agent.split("/")[0].split()[0] if user_agent.strip() else "*"


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class Manners:
    """robots.txt and per-host slots, shared through `redis` (an asyncio client)."""

    def __init__(
        self,
        redis: Redis,
        *,
        user_agent: str,
        per_host: int,
        max_delay: float,
        slot_s: float,
        prefix: str = PREFIX,
    ) -> None:
        self.redis = redis
        self.agent = product_token(user_agent)
        self.per_host = per_host
        self.max_delay = max_delay
        self.slot_ms = int(slot_s * 1000)
        self.prefix = prefix
        self._robots: dict[str, asyncio.Task[Protego]] = {}  # one read per host at a time
        self._take = redis.register_script(_TAKE)

    async def check(self, url: str, read_robots: RobotsReader) -> float:
        """The site's Crawl-delay (capped); FetchRefused when robots.txt disallows `url`."""
        robots = await self._rules(host_of(url), read_robots)
        if not robots.can_fetch(url, self.agent):
            raise FetchRefused("refused: disallowed by the site's robots.txt")
        delay = robots.crawl_delay(self.agent) or 0.0
        return min(float(delay), self.max_delay)

    async def _rules(self, host: str, read_robots: RobotsReader) -> Protego:
        if host not in self._robots:
            self._robots[host] = asyncio.create_task(self._read_rules(host, read_robots))
        return await asyncio.shield(self._robots[host])

    async def _read_rules(self, host: str, read_robots: RobotsReader) -> Protego:
        """The site's rules, from Redis or read now (and kept there); without Redis they
        are read for this run only."""
        key = f"{self.prefix}:robots:{host}"
        try:
            text = await self.redis.get(key)
        except RedisError as exc:
            logger.warning("robots.txt cache unavailable (%s): reading %s's", exc, host)
            return Protego.parse(await read_robots(f"{host}/robots.txt") or "")
        if text is None:
            found = await read_robots(f"{host}/robots.txt")
            text = (found or "").encode()
            ttl = ROBOTS_TTL_S if found is not None else ROBOTS_MISSING_TTL_S
            with contextlib.suppress(RedisError):
                await self.redis.set(key, text, ex=ttl)
        return Protego.parse(text.decode("utf-8", errors="replace"))

    @contextlib.asynccontextmanager
    async def slot(self, url: str, *, delay: float) -> AsyncIterator[None]:
        """Hold one of the host's fetch slots (waiting for one, and for its crawl delay)."""
        host = host_of(url)
        slots, gap = f"{self.prefix}:slots:{host}", f"{self.prefix}:next:{host}"
        token = uuid.uuid4().hex
        try:
            await self._wait_for_slot(slots, gap, token, delay)
        except RedisError as exc:
            # Without Redis there is no shared count: the fetch goes ahead (research's own
            # concurrency still bounds it) rather than research stopping.
            logger.warning("Per-host slots unavailable (%s): fetching %s unlimited", exc, url)
            yield
            return
        try:
            yield
        finally:
            with contextlib.suppress(RedisError):
                await self.redis.zrem(slots, token)

    async def _wait_for_slot(self, slots: str, gap: str, token: str, delay: float) -> None:
        while True:
            now = int(time.time() * 1000)
            args: list[int | str] = [now, self.slot_ms, self.per_host, token, int(delay * 1000)]
            wait_ms = int(await self._take(keys=[slots, gap], args=args))
            if wait_ms == 0:
                return
            await asyncio.sleep(max(wait_ms / 1000, POLL_S))


async def robots_text(fetch: Callable[[str], Awaitable[bytes]], url: str) -> str | None:
    """robots.txt's text, or None when the site has none or it cannot be read."""
    try:
        body = await fetch(url)
    except (FetchFailed, FetchRefused):
        return None
    return body.decode("utf-8", errors="replace")
