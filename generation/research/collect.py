"""research(): fill a candidate pool from every provider, fetch it in order until enough
usable pages are in, search a second round only when too few survive, keep the best.

Too little evidence after both rounds is NotEnoughSources, a permanent error: asking the
same searches again later would find the same pages. Its message says what was searched
and why each page was dropped; `.docs` holds every page tried.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import httpx

from generation.exceptions import GenerationError, InvalidRequest, NotEnoughSources, ProviderError
from generation.research.base import DROPPED, KEPT, Provider, SourceDoc
from generation.research.fetch import DEFAULT_MAX_BYTES
from generation.research.guard import GuardedClient
from generation.research.harvest import Harvest, Limits, Progress
from generation.research.pool import Candidate, new_candidates, precheck, search_all
from generation.research.ranking import above_floor
from generation.research.text import canonical_url
from generation.research.visit import FROM_CACHE, REVALIDATED, Visitor

logger = logging.getLogger(__name__)

MoreQueries = Callable[[list[str]], Awaitable[list[str]]]
MESSAGE_PAGES = 12  # pages named in a failure message; the run's sources list them all
MAX_PAGE = 5  # the last page of results asked for any one query


@dataclass
class Findings:
    """What research found: every page tried (kept ones first, best first) and the queries."""

    docs: list[SourceDoc]
    queries: list[str]
    rounds: int = 1
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def kept(self) -> list[SourceDoc]:
        return [doc for doc in self.docs if doc.status == KEPT]


@dataclass
class _Search:
    """One research session's state: the providers, what was searched, what was seen."""

    http: httpx.AsyncClient
    providers: Sequence[Provider]
    per_query: int
    harvest: Harvest
    progress: Progress
    queries: list[str]  # every query searched (relevance is judged by the first round's)
    seen: set[str] = field(default_factory=set)
    rounds: int = 1
    paging: dict[str, int] = field(default_factory=dict)  # query -> the next page to ask

    async def add(self, found: list[Candidate]) -> int:
        """Put new candidates in the pool, refused addresses dropped first; how many were new."""
        fresh = new_candidates(found, self.seen)
        guard = self.http.guard if isinstance(self.http, GuardedClient) else None
        self.harvest.admit(fresh, await precheck(fresh, guard))
        return len(fresh)


async def research(
    queries: list[str],
    *,
    http: httpx.AsyncClient,
    providers: Sequence[Provider],
    max_sources: int,
    fetch_concurrency: int,
    results_per_query: int,
    min_sources: int = 1,
    deadline_s: float = 60.0,
    straggler_factor: float = 2.0,
    relevance_floor: float = 0.0,
    more_queries: MoreQueries | None = None,
    on_progress: Progress | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    visitor: Visitor | None = None,
    topic: str = "",
) -> Findings:
    """Up to `max_sources` usable, on-topic pages; NotEnoughSources below `min_sources`.
    `visitor` reads each page (the cache, robots.txt, host slots, the stall cut).
    `topic`, the run's subject, is what a page must cover to be on-topic, beside the
    queries (ranking.rank_tokenized); without one, relevance is to the queries alone."""
    queries = _clean(queries)
    _validate(queries, providers, max_sources, fetch_concurrency, results_per_query, min_sources)
    if min_sources > max_sources:
        raise InvalidRequest("min_sources must not exceed max_sources")
    progress = on_progress or _no_progress
    limits = Limits(
        concurrency=fetch_concurrency,
        max_bytes=max_bytes,
        target=max_sources,
        enough=min_sources,
        deadline=time.monotonic() + deadline_s,
        straggler_factor=straggler_factor,
        relevance_floor=relevance_floor,
    )
    harvest = Harvest(
        http=http,
        queries=list(queries),
        limits=limits,
        progress=progress,
        visitor=visitor,
        topic=topic,
    )
    search = _Search(http, providers, results_per_query, harvest, progress, list(queries))
    await _rounds(search, queries, more_queries, limits)
    docs = choose_sources(harvest, max_sources=max_sources, relevance_floor=relevance_floor)
    kept = sum(doc.status == KEPT for doc in docs)
    progress(f"Kept {kept} of {len(docs)} pages")
    if kept < min_sources:
        message = evidence_message(search.queries, providers, docs, kept=kept, needed=min_sources)
        timed_out = time.monotonic() >= limits.deadline  # pages loading, or a search waiting
        passing = passing_shortfall(docs, timed_out=timed_out, kept=kept, needed=min_sources)
        error = NotEnoughSources(
            f"{message} {passing}" if passing else message, permanent=not passing
        )
        error.docs = docs  # so the caller can still record what was tried
        raise error
    return Findings(docs, search.queries, search.rounds, _stats(docs, len(search.seen)))


async def _rounds(
    search: _Search, queries: list[str], more_queries: MoreQueries | None, limits: Limits
) -> None:
    """The first round; the second only when too few usable, on-topic pages are in and the
    pool's reserve is spent; then further pages of queries that still bring new pages."""
    harvest = search.harvest
    try:
        found = await search.add(
            await search_all(queries, search.providers, http=search.http, limit=search.per_query)
        )
        search.progress(f"Search found {found} distinct pages for {len(queries)} queries")
        await harvest.run(can_refill=True)
        if _too_few(harvest, limits):
            search.paging = dict.fromkeys(queries, 2)
            await _second_round(search, more_queries, limits.deadline)
            await harvest.run(can_refill=True)
        while _too_few(harvest, limits) and search.paging and await _next_pages(search):
            await harvest.run(can_refill=True)
        await harvest.run()
    finally:
        harvest.close()
        await harvest.settle()


def _too_few(harvest: Harvest, limits: Limits) -> bool:
    return harvest.on_topic() < limits.enough and time.monotonic() < limits.deadline


async def _second_round(search: _Search, more_queries: MoreQueries | None, deadline: float) -> None:
    """New queries from other angles (when the caller can make them) and the next page of
    results for the first ones, into the same pool."""
    search.rounds = 2
    remaining = max(deadline - time.monotonic(), 0.01)
    try:
        async with asyncio.timeout(remaining):
            fresh = await _more(more_queries, search.queries)
            search.queries.extend(fresh)
            search.progress(f"Too few usable pages: searching again ({len(fresh)} new queries)")
            search.paging.update(dict.fromkeys(fresh, 1))
            found = await _search_pages(search)
    except TimeoutError:
        search.progress("The research deadline passed during the second search")
        return
    search.progress(f"Second round found {found} new pages")


async def _next_pages(search: _Search) -> int:
    """Later rounds: the next page of every query still paging; how many pages were new."""
    found = await _search_pages(search)
    search.progress(f"The next page of results found {found} new pages")
    return found


async def _search_pages(search: _Search) -> int:
    """The next page of every query still paging, into the pool; how many pages were new.
    A query whose page brings only known addresses (or none) is not paged again."""
    asked = [(query, page) for query, page in search.paging.items() if page <= MAX_PAGE]
    answers = await asyncio.gather(
        *(_search_quietly(search, [query], page=page) for query, page in asked)
    )
    search.paging = {}
    for (query, page), found in zip(asked, answers, strict=True):
        if any(canonical_url(item.hit.url) not in search.seen for item in found):
            search.paging[query] = page + 1
    return await search.add(_by_rank(answers))


def _by_rank(answers: list[list[Candidate]]) -> list[Candidate]:
    """Several queries' hits merged by their rank, then by query (as search_all merges)."""
    ranked = [
        (rank, order, item)
        for order, found in enumerate(answers)
        for rank, item in enumerate(found)
    ]
    return [item for _rank, _order, item in sorted(ranked, key=lambda entry: entry[:2])]


async def _more(more_queries: MoreQueries | None, tried: list[str]) -> list[str]:
    if more_queries is None:
        return []
    try:
        proposed = await more_queries(list(tried))
    except GenerationError as exc:
        logger.warning("No new research queries (%s); trying the next page of results only", exc)
        return []
    known = {query.lower() for query in tried}
    return [query for query in _clean(proposed) if query.lower() not in known][:6]


async def _search_quietly(search: _Search, queries: list[str], *, page: int) -> list[Candidate]:
    if not queries:
        return []
    providers = search.providers
    if page > 1:
        providers = [provider for provider in providers if getattr(provider, "can_page", True)]
    if not providers:
        return []
    try:
        return await search_all(
            queries, providers, http=search.http, limit=search.per_query, page=page
        )
    except ProviderError as exc:
        logger.warning("Second-round search failed: %s", exc)
        return []


def choose_sources(
    harvest: Harvest, *, max_sources: int, relevance_floor: float
) -> list[SourceDoc]:
    """Rank the usable pages; drop off-topic ones (below the floor relative to the best)
    and those past `max_sources`. Kept pages first, best first, then every other page."""
    relevance = harvest.relevance()
    best = max(relevance, default=0.0)
    on_topic = above_floor(relevance, relevance_floor)
    for doc, value, fits in zip(harvest.usable, relevance, on_topic, strict=True):
        doc.relevance = value
        if not fits:
            doc.status, doc.reason = DROPPED, _off_topic(value, best, relevance_floor)
    ranked = sorted((d for d in harvest.usable if d.status == KEPT), key=lambda d: -d.relevance)
    for doc in ranked[max_sources:]:
        doc.status, doc.reason = DROPPED, f"ranked below the {max_sources} kept sources"
    rest = [doc for doc in harvest.ordered_docs() if doc.status != KEPT]
    return ranked[:max_sources] + rest


def _off_topic(value: float, best: float, floor: float) -> str:
    if value <= 0:
        return "not relevant to the topic or the queries"
    share = math.floor(1000 * value / best) / 10 if best > 0 else 0.0
    return f"off-topic: {share:g}% as relevant as the best source (the floor is {floor:.0%})"


def passing_shortfall(docs: list[SourceDoc], *, timed_out: bool, kept: int, needed: int) -> str:
    """Why a retry may find enough ("" when it would not): the research deadline passed
    (pages loading or a search unanswered), or enough pages were lost to timeouts, stalls,
    dropped connections or server errors."""
    lost = sum(doc.transient and doc.status != KEPT for doc in docs)
    if timed_out:
        return "The research deadline passed before research was done: a retry may finish it."
    if kept + lost >= needed:
        pages = "page was" if lost == 1 else "pages were"
        return f"{lost} {pages} lost to timeouts or server errors: a retry may read them."
    return ""


def evidence_message(
    queries: list[str],
    providers: Sequence[Provider],
    docs: list[SourceDoc],
    *,
    kept: int,
    needed: int,
) -> str:
    """One paragraph: how many usable pages against how many needed, what was searched,
    and each page dropped with its reason."""
    names = ", ".join(provider.name for provider in providers)
    searched = "; ".join(f"'{query}'" for query in queries)
    head = (
        f"Not enough evidence: {kept} usable source{'s' if kept != 1 else ''}, {needed} needed."
        f" Searched {names} for {searched}."
    )
    if not docs:
        return f"{head} The searches found no results."
    dropped = [doc for doc in docs if doc.status != KEPT]
    listed = "; ".join(f"{doc.url} ({doc.reason})" for doc in dropped[:MESSAGE_PAGES])
    more = len(dropped) - MESSAGE_PAGES
    tail = f"; and {more} more (see the run's sources)" if more > 0 else ""
    return f"{head} Dropped {len(dropped)} of {len(docs)} pages: {listed}{tail}."


def _stats(docs: list[SourceDoc], found: int) -> dict[str, int]:
    return {
        "found": found,
        "tried": len(docs),
        "kept": sum(doc.status == KEPT for doc in docs),
        "cut": sum(doc.reason.startswith("cut:") for doc in docs),
        "refused": sum(doc.reason.startswith("refused") for doc in docs),
        "cache_hits": sum(doc.cache == FROM_CACHE for doc in docs),
        "revalidated": sum(doc.cache == REVALIDATED for doc in docs),
    }


def _clean(queries: list[str]) -> list[str]:
    cleaned: list[str] = []
    for query in queries:
        query = " ".join(str(query or "").split())[:200]
        if query and query.lower() not in {known.lower() for known in cleaned}:
            cleaned.append(query)
    return cleaned


def _no_progress(message: str) -> None:
    return None


def _validate(queries: list[str], providers: Sequence[Provider], *limits: int) -> None:
    if not queries:
        raise InvalidRequest("research needs at least one non-empty query")
    if not providers:
        raise InvalidRequest("research needs at least one provider (RESEARCH_PROVIDERS)")
    if min(limits) < 1:
        raise InvalidRequest(
            "max_sources, fetch_concurrency, results_per_query and min_sources must be >= 1"
        )
