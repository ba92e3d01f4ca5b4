"""The candidate pool: every provider searched for every query, hits merged in search
order, duplicates dropped by URL and addresses the guard refuses dropped before they
can take a fetch slot."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from generation.exceptions import FetchRefused, ProviderError
from generation.research.base import FAILED, FetchFailed, Provider, SearchHit, SourceDoc
from generation.research.fetch import FetchedPage
from generation.research.guard import Guard
from generation.research.text import canonical_url

logger = logging.getLogger(__name__)

Reader = Callable[[str], Awaitable[FetchedPage]]
PRECHECKS_AT_ONCE = 16


@dataclass(frozen=True)
class Candidate:
    """A page to fetch: its search hit and how to read it."""

    hit: SearchHit
    reader: Reader | None  # a provider's own `read` (local files); None means HTTP


async def search_all(
    queries: Sequence[str],
    providers: Sequence[Provider],
    *,
    http: httpx.AsyncClient,
    limit: int,
    page: int = 1,
) -> list[Candidate]:
    """All (query x provider) searches at once; hits merged by search rank, then query.

    A failing provider is logged and skipped; if every search fails, ProviderError.
    """
    pairs = [(query, provider) for query in queries for provider in providers]
    outcomes = await asyncio.gather(
        *(_search_one(provider, query, http, limit, page) for query, provider in pairs)
    )
    errors = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    if errors and len(errors) == len(outcomes):
        permanent = all(error.permanent for error in errors)
        raise ProviderError(f"every research provider failed: {errors[0]}", permanent=permanent)
    ranked: list[tuple[int, int, Candidate]] = []
    for order, ((_query, provider), outcome) in enumerate(zip(pairs, outcomes, strict=True)):
        if isinstance(outcome, Exception):
            continue
        reader = getattr(provider, "read", None)
        ranked += [(rank, order, Candidate(hit, reader)) for rank, hit in enumerate(outcome)]
    return [item for _rank, _order, item in sorted(ranked, key=lambda entry: entry[:2])]


async def _search_one(
    provider: Provider, query: str, http: httpx.AsyncClient, limit: int, page: int
) -> list[SearchHit] | ProviderError:
    try:
        if page > 1:
            return await provider.search(query, http=http, limit=limit, page=page)
        return await provider.search(query, http=http, limit=limit)
    except (ProviderError, FetchRefused, FetchFailed) as exc:
        logger.warning("Research provider %s failed for %r: %s", provider.name, query, exc)
        return exc if isinstance(exc, ProviderError) else ProviderError(f"{provider.name}: {exc}")


def new_candidates(found: Iterable[Candidate], seen: set[str]) -> list[Candidate]:
    """The candidates whose canonical URL is not in `seen` (which they are added to)."""
    fresh = []
    for item in found:
        key = canonical_url(item.hit.url)
        if key not in seen:
            seen.add(key)
            fresh.append(item)
    return fresh


async def precheck(candidates: list[Candidate], guard: Guard | None) -> list[str | None]:
    """Per candidate, why the guard refuses its address (None: it may be fetched).

    Refused addresses are dropped here, before they take a fetch slot; the fetch checks
    every hop again, so a redirect to a private address is still refused there.
    """
    if guard is None:
        return [None] * len(candidates)
    gate = asyncio.Semaphore(PRECHECKS_AT_ONCE)

    async def verdict(item: Candidate) -> str | None:
        if item.reader is not None:
            return None  # not fetched over the network
        async with gate:
            try:
                await guard.check(httpx.URL(item.hit.url))
            except (FetchRefused, FetchFailed) as exc:
                return str(exc)
            except httpx.InvalidURL as exc:
                return f"refused: invalid URL ({exc})"
        return None

    return list(await asyncio.gather(*(verdict(item) for item in candidates)))


def failed_doc(hit: SearchHit, reason: str) -> SourceDoc:
    """A page that was never read, and why."""
    return SourceDoc(
        url=hit.url,
        title=hit.title,
        domain=domain_of(hit.url),
        provider=hit.provider,
        published=hit.published,
        text="",
        content_hash="",
        status=FAILED,
        reason=reason,
    )


def domain_of(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "file":
        return "local"
    return (parts.hostname or "").removeprefix("www.")
