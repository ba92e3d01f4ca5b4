"""How research reads one page: the guard, robots.txt, a host slot, the cache, the fetch.

The SSRF guard runs on every request, a cached page included: each address the page was
fetched through (its redirects) is checked again before a stored copy is used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import httpx

from generation.research.cache import CachedPage, PageCache
from generation.research.fetch import DEFAULT_MAX_BYTES, FetchedPage, fetch_page
from generation.research.guard import GuardedClient
from generation.research.polite import Manners, RobotsReader, robots_text

FROM_CACHE = "hit"  # reused within the cache's TTL: no request to the site
REVALIDATED = "revalidated"  # a conditional request answered 304: no body
ROBOTS_MAX_BYTES = 500_000


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Visit:
    page: FetchedPage
    cache: str = ""  # FROM_CACHE, REVALIDATED, or "" when fetched


@dataclass
class Visitor:
    """Reads pages politely and through the cache; each part may be absent (None)."""

    cache: PageCache | None = None
    manners: Manners | None = None
    stall_s: float | None = None

    async def read(
        self,
        http: httpx.AsyncClient,
        url: str,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        on_start: Callable[[], None] = _nothing,
        max_age: float | None = None,
    ) -> Visit:
        """The page at `url`; `on_start` is called when its fetch (or cache read) begins,
        after any wait for robots.txt and for a slot on its host. `max_age` (seconds)
        shortens the cache's TTL for this read: an older copy is revalidated with a
        conditional request (re-verification asks the site unless a copy is very recent)."""
        cached = await self.cache.get(url) if self.cache else None
        if cached is not None and self.cache and self.cache.fresh(cached, max_age=max_age):
            on_start()
            await _recheck(http, cached)
            return Visit(cached.page, FROM_CACHE)
        delay = await self.manners.check(url, self._robots(http)) if self.manners else 0.0
        if self.manners is None:
            on_start()
            return await self._fetch(http, url, cached, max_bytes)
        async with self.manners.slot(url, delay=delay):
            on_start()
            return await self._fetch(http, url, cached, max_bytes)

    async def _fetch(
        self, http: httpx.AsyncClient, url: str, cached: CachedPage | None, max_bytes: int
    ) -> Visit:
        validators = cached.validators() if cached else {}
        page = await fetch_page(
            http, url, max_bytes=max_bytes, stall_s=self.stall_s, validators=validators
        )
        if page.status == 304 and cached is not None:
            # Still the stored body; where it was asked for now (a redirect may be new).
            refreshed = replace(
                cached.page,
                etag=page.etag or cached.page.etag,
                url=page.url,
                hops=page.hops,
                redirects=page.redirects,
            )
            if self.cache:
                await self.cache.put(url, refreshed)
            return Visit(refreshed, REVALIDATED)
        if self.cache:
            await self.cache.put(url, page)
        return Visit(page)

    def _robots(self, http: httpx.AsyncClient) -> RobotsReader:
        async def fetch(url: str) -> bytes:
            page = await fetch_page(http, url, max_bytes=ROBOTS_MAX_BYTES, stall_s=self.stall_s)
            return page.body

        async def read(url: str) -> str | None:
            return await robots_text(fetch, url)

        return read


async def _recheck(http: httpx.AsyncClient, cached: CachedPage) -> None:
    """The guard's verdict on every address a stored page was fetched through, again."""
    if isinstance(http, GuardedClient):
        for hop in cached.page.hops or (cached.page.url,):
            await http.guard.check(httpx.URL(hop))
