"""research(): search every provider for every query, fetch and extract the pages,
drop duplicates and thin pages, rank what is left and keep the best."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from generation.exceptions import FetchRefused, InvalidRequest, NotEnoughSources, ProviderError
from generation.research.base import (
    DROPPED,
    FAILED,
    KEPT,
    FetchFailed,
    Provider,
    SearchHit,
    SourceDoc,
)
from generation.research.extract import extract
from generation.research.fetch import DEFAULT_MAX_BYTES, FetchedPage, fetch_page
from generation.research.ranking import rank_documents
from generation.research.text import canonical_url, content_hash

logger = logging.getLogger(__name__)

MIN_TEXT_CHARS = 200
Progress = Callable[[str], None]
Reader = Callable[[str], Awaitable[FetchedPage]]


@dataclass(frozen=True)
class _Found:
    hit: SearchHit
    reader: Reader | None  # a provider's own `read` (local files); None means HTTP


async def research(
    queries: list[str],
    *,
    http: httpx.AsyncClient,
    providers: Sequence[Provider],
    max_sources: int,
    fetch_concurrency: int,
    results_per_query: int,
    on_progress: Progress | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[SourceDoc]:
    """Every page found, kept ones first (best first), then dropped and failed with reasons.

    Raises NotEnoughSources (with `.docs` set to every page tried) when nothing is kept.
    """
    queries = [query.strip() for query in queries if query and query.strip()]
    _validate(queries, providers, max_sources, fetch_concurrency, results_per_query)
    progress = on_progress or _no_progress
    found = await search_all(queries, providers, http=http, limit=results_per_query)
    progress(f"Search found {len(found)} distinct pages for {len(queries)} queries")
    if not found:
        error = NotEnoughSources(f"search found no results for: {'; '.join(queries)}")
        error.docs = []
        raise error
    docs = await fetch_all(
        found, http=http, concurrency=fetch_concurrency, max_bytes=max_bytes, progress=progress
    )
    docs = choose_sources(docs, queries, max_sources=max_sources)
    kept = sum(doc.status == KEPT for doc in docs)
    progress(f"Kept {kept} of {len(docs)} pages")
    if not kept:
        error = NotEnoughSources(f"no usable source among {len(docs)} pages ({_reasons(docs)})")
        error.docs = docs  # so the caller can still record what was tried
        raise error
    return docs


def _no_progress(message: str) -> None:
    return None


def _validate(queries: list[str], providers: Sequence[Provider], *limits: int) -> None:
    if not queries:
        raise InvalidRequest("research needs at least one non-empty query")
    if not providers:
        raise InvalidRequest("research needs at least one provider (RESEARCH_PROVIDERS)")
    if min(limits) < 1:
        raise InvalidRequest("max_sources, fetch_concurrency and results_per_query must be >= 1")


async def search_all(
    queries: list[str], providers: Sequence[Provider], *, http: httpx.AsyncClient, limit: int
) -> list[_Found]:
    """All (query x provider) searches at once; hits merged by canonical URL, best rank first.

    A failing provider is logged and skipped; if every search fails, ProviderError.
    """
    pairs = [(query, provider) for query in queries for provider in providers]
    outcomes = await asyncio.gather(
        *(_search_one(provider, query, http, limit) for query, provider in pairs)
    )
    errors = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    if len(errors) == len(outcomes):
        permanent = all(error.permanent for error in errors)
        raise ProviderError(f"every research provider failed: {errors[0]}", permanent=permanent)
    ranked: list[tuple[int, int, _Found]] = []
    for order, ((_query, provider), outcome) in enumerate(zip(pairs, outcomes, strict=True)):
        if isinstance(outcome, Exception):
            continue
        reader = getattr(provider, "read", None)
        ranked += [(rank, order, _Found(hit, reader)) for rank, hit in enumerate(outcome)]
    seen: set[str] = set()
    found = []
    for _rank, _order, item in sorted(ranked, key=lambda entry: entry[:2]):
        key = canonical_url(item.hit.url)
        if key not in seen:
            seen.add(key)
            found.append(item)
    return found


async def _search_one(
    provider: Provider, query: str, http: httpx.AsyncClient, limit: int
) -> list[SearchHit] | ProviderError:
    try:
        return await provider.search(query, http=http, limit=limit)
    except (ProviderError, FetchRefused, FetchFailed) as exc:
        logger.warning("Research provider %s failed for %r: %s", provider.name, query, exc)
        return exc if isinstance(exc, ProviderError) else ProviderError(f"{provider.name}: {exc}")


async def fetch_all(
    found: list[_Found],
    *,
    http: httpx.AsyncClient,
    concurrency: int,
    max_bytes: int,
    progress: Progress,
) -> list[SourceDoc]:
    """Fetch at most `concurrency` pages at a time; extraction runs in threads meanwhile."""
    gate = asyncio.Semaphore(concurrency)
    done = 0

    async def one(item: _Found) -> SourceDoc:
        nonlocal done
        doc = await _fetch_doc(item, http=http, gate=gate, max_bytes=max_bytes)
        done += 1
        progress(f"Fetched {done}/{len(found)}: {doc.status} {doc.url}")
        return doc

    return list(await asyncio.gather(*(one(item) for item in found)))


async def _fetch_doc(
    item: _Found, *, http: httpx.AsyncClient, gate: asyncio.Semaphore, max_bytes: int
) -> SourceDoc:
    hit = item.hit
    try:
        async with gate:
            if item.reader is not None:
                page = await item.reader(hit.url)
            else:
                page = await fetch_page(http, hit.url, max_bytes=max_bytes)
        extracted = await asyncio.to_thread(extract, page)
    except (FetchRefused, FetchFailed) as exc:
        logger.info("Research fetch of %s failed: %s", hit.url, exc)
        return _doc(hit, hit.url, status=FAILED, reason=str(exc))
    except Exception as exc:
        # Parsers meet hostile markup here; one bad page must not sink the run.
        logger.exception("Extracting %s failed", hit.url)
        return _doc(hit, hit.url, status=FAILED, reason=f"extraction failed ({type(exc).__name__})")
    return _doc(
        hit,
        page.url,
        status=KEPT,
        title=extracted.title or hit.title,
        text=extracted.text,
        published=extracted.published or hit.published,
    )


def _doc(
    hit: SearchHit,
    url: str,
    *,
    status: str,
    reason: str = "",
    title: str = "",
    text: str = "",
    published: str = "",
) -> SourceDoc:
    return SourceDoc(
        url=url,
        title=title or hit.title,
        domain=_domain(url),
        provider=hit.provider,
        published=published or hit.published,
        text=text,
        content_hash=content_hash(text) if text else "",
        status=status,
        reason=reason,
    )


def _domain(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "file":
        return "local"
    return (parts.hostname or "").removeprefix("www.")


def choose_sources(
    docs: list[SourceDoc], queries: list[str], *, max_sources: int
) -> list[SourceDoc]:
    """Drop thin and duplicate pages, rank the rest, keep the best `max_sources`."""
    candidates: list[SourceDoc] = []
    first_with_hash: dict[str, str] = {}
    for doc in docs:
        if doc.status != KEPT:
            continue
        if len(doc.text.strip()) < MIN_TEXT_CHARS:
            doc.status, doc.reason = DROPPED, f"too short: {len(doc.text.strip())} characters"
        elif doc.content_hash in first_with_hash:
            doc.status, doc.reason = DROPPED, f"duplicate of {first_with_hash[doc.content_hash]}"
        else:
            first_with_hash[doc.content_hash] = doc.url
            candidates.append(doc)
    scores = rank_documents([doc.text for doc in candidates], queries)
    for doc, relevance in zip(candidates, scores, strict=True):
        doc.relevance = relevance
    ranked = sorted(candidates, key=lambda doc: -doc.relevance)
    for position, doc in enumerate(ranked):
        if doc.relevance <= 0:
            doc.status, doc.reason = DROPPED, "not relevant to the queries"
        elif position >= max_sources:
            doc.status, doc.reason = DROPPED, f"ranked below the {max_sources} kept sources"
    kept = [doc for doc in ranked if doc.status == KEPT]
    return kept + [doc for doc in docs if doc.status != KEPT]


def _reasons(docs: list[SourceDoc]) -> str:
    reasons = sorted({doc.reason for doc in docs if doc.reason})
    summary = "; ".join(reasons[:4])
    return summary + ("; ..." if len(reasons) > 4 else "")
