"""The research cache: fetched pages in Redis, shared by every post and every worker.

A page is reused without asking its site for `ttl` seconds; after that it is revalidated
with If-None-Match / If-Modified-Since, so an unchanged page costs a 304 and no body.
Pages sent with Cache-Control `no-store` or `private` are never stored. The cache holds
at most `max_bytes` of compressed pages; past that the least recently used go first.

Why not hishel: its plain mode drops an entry at its TTL instead of revalidating it, its
RFC mode takes freshness from each server's headers (not our 7 days), its Redis storage
leaves size to the server's maxmemory (which would evict RQ's jobs too), and as a
transport it would sit below the SSRF guard, seeing pinned addresses instead of URLs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zlib
from collections.abc import Awaitable
from dataclasses import asdict, dataclass
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from generation.research.fetch import FetchedPage

logger = logging.getLogger(__name__)
PREFIX = "research:cache"
_NOT_STORED = ("no-store", "private")


@dataclass(frozen=True)
class CachedPage:
    page: FetchedPage
    stored_at: float  # time.time() of the last fetch or revalidation

    def validators(self) -> dict[str, str]:
        """The conditional request headers this copy can be revalidated with."""
        headers = {}
        if self.page.etag:
            headers["If-None-Match"] = self.page.etag
        if self.page.last_modified:
            headers["If-Modified-Since"] = self.page.last_modified
        return headers


def storable(page: FetchedPage) -> bool:
    """Whether the site lets a shared cache keep this page."""
    directives = {part.split("=")[0].strip() for part in page.cache_control.split(",")}
    return not directives & set(_NOT_STORED)


class PageCache:
    """Pages by the URL asked for, with a size cap; `redis` is an asyncio client."""

    def __init__(self, redis: Redis, *, ttl: float, max_bytes: int, prefix: str = PREFIX) -> None:
        self.redis = redis
        self.ttl = ttl
        self.max_bytes = max_bytes
        self.prefix = prefix

    def _key(self, url: str) -> str:
        return hashlib.sha256(url.encode()).hexdigest()

    def fresh(self, cached: CachedPage, *, max_age: float | None = None) -> bool:
        """Whether the copy may be used without asking its site (within the TTL, and
        within `max_age` seconds when a reader asks for a younger copy)."""
        ttl = self.ttl if max_age is None else min(self.ttl, max_age)
        return time.time() - cached.stored_at < ttl

    async def get(self, url: str) -> CachedPage | None:
        """The stored copy, or None (also when Redis fails or the entry cannot be read:
        research goes on without the cache)."""
        try:
            return await self._get(url)
        except RedisError as exc:
            logger.warning("Research cache unavailable (%s): fetching %s", exc, url)
        except (zlib.error, ValueError, TypeError, KeyError) as exc:
            logger.warning("Research cache entry for %s unreadable (%s): dropped", url, exc)
            await self.forget(url)
        return None

    async def _get(self, url: str) -> CachedPage | None:
        key = self._key(url)
        blob = await cast(Awaitable[bytes | None], self.redis.hget(f"{self.prefix}:pages", key))
        if blob is None:
            return None
        await self.redis.zadd(f"{self.prefix}:used", {key: time.time()})
        meta, _, body = zlib.decompress(blob).partition(b"\n")
        fields = json.loads(meta)
        stored_at = fields.pop("stored_at")
        fields["hops"] = tuple(fields["hops"])
        fields["redirects"] = tuple(fields.get("redirects", ()))
        return CachedPage(FetchedPage(body=body, **fields), stored_at)

    async def put(self, url: str, page: FetchedPage) -> None:
        """Store (or refresh) a page; then evict the least recently used past the cap.
        A Redis failure only means the page is not stored."""
        try:
            await self._put(url, page)
        except RedisError as exc:
            logger.warning("Research cache unavailable (%s): %s not stored", exc, url)

    async def _put(self, url: str, page: FetchedPage) -> None:
        if not storable(page):
            await self.forget(url)
            return
        fields = {**asdict(page), "stored_at": time.time()}
        body = fields.pop("body")
        blob = zlib.compress(json.dumps(fields).encode() + b"\n" + body, 6)
        if len(blob) > self.max_bytes:
            return
        key = self._key(url)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(f"{self.prefix}:pages", key, blob)  # type: ignore[arg-type]
            pipe.hset(f"{self.prefix}:sizes", key, str(len(blob)))
            pipe.zadd(f"{self.prefix}:used", {key: time.time()})
            await pipe.execute()
        await self._evict()

    async def forget(self, url: str) -> None:
        try:
            await self._drop([self._key(url)])
        except RedisError as exc:
            logger.warning("Research cache unavailable (%s): %s not dropped", exc, url)

    async def size(self) -> int:
        sizes = await cast(Awaitable[list[bytes]], self.redis.hvals(f"{self.prefix}:sizes"))
        return sum(int(size) for size in sizes)

    async def _evict(self) -> None:
        while await self.size() > self.max_bytes:
            oldest = await self.redis.zpopmin(f"{self.prefix}:used")
            if not oldest:
                return
            await self._drop([_text(key) for key, _score in oldest])

    async def _drop(self, keys: list[str]) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(f"{self.prefix}:pages", *keys)
            pipe.hdel(f"{self.prefix}:sizes", *keys)
            pipe.zrem(f"{self.prefix}:used", *keys)
            await pipe.execute()


def _text(key: str | bytes) -> str:
    return key.decode() if isinstance(key, bytes) else key
