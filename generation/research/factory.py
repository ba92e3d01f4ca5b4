"""The only place the research layer reads Django settings."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from django.conf import settings
from redis.asyncio import Redis

from generation.exceptions import ConfigurationError
from generation.research.base import Provider
from generation.research.cache import PageCache
from generation.research.guard import make_http_client, parse_allow_hosts
from generation.research.polite import Manners
from generation.research.providers import (
    ArxivProvider,
    BraveProvider,
    HackerNewsProvider,
    LocalProvider,
    SearxngProvider,
    TavilyProvider,
    WikipediaProvider,
)
from generation.research.visit import Visitor


def _required(variable: str, provider: str) -> str:
    value = str(getattr(settings, variable, "") or "").strip()
    if not value:
        raise ConfigurationError(
            f"RESEARCH_PROVIDERS includes {provider!r} but {variable} is empty: set {variable}"
            f" or remove {provider!r} from RESEARCH_PROVIDERS."
        )
    return value


def _local() -> LocalProvider:
    folder = _required("RESEARCH_LOCAL_DIR", "local")
    if not Path(folder).is_dir():
        raise ConfigurationError(f"RESEARCH_LOCAL_DIR={folder!r} is not a directory.")
    return LocalProvider(folder, max_bytes=settings.RESEARCH_MAX_BYTES)


BUILDERS: dict[str, Callable[[], Provider]] = {
    "wikipedia": lambda: WikipediaProvider(settings.RESEARCH_WIKIPEDIA_API),
    "arxiv": lambda: ArxivProvider(settings.RESEARCH_ARXIV_API),
    "hackernews": lambda: HackerNewsProvider(settings.RESEARCH_HN_API),
    "searxng": lambda: SearxngProvider(_required("SEARXNG_URL", "searxng")),
    "tavily": lambda: TavilyProvider(
        _required("TAVILY_API_KEY", "tavily"), settings.RESEARCH_TAVILY_API
    ),
    "brave": lambda: BraveProvider(
        _required("BRAVE_API_KEY", "brave"), settings.RESEARCH_BRAVE_API
    ),
    "local": _local,
}


def providers_from_settings() -> list[Provider]:
    """The providers named in RESEARCH_PROVIDERS, each configured from its settings."""
    names = [str(name).strip().lower() for name in settings.RESEARCH_PROVIDERS if str(name).strip()]
    if not names:
        raise ConfigurationError(
            f"RESEARCH_PROVIDERS is empty: name at least one of {', '.join(BUILDERS)}."
        )
    unknown = [name for name in names if name not in BUILDERS]
    if unknown:
        raise ConfigurationError(
            f"RESEARCH_PROVIDERS has unknown provider {unknown[0]!r}; known: {', '.join(BUILDERS)}."
        )
    return [BUILDERS[name]() for name in dict.fromkeys(names)]


def http_client_from_settings() -> httpx.AsyncClient:
    """The one guarded client for provider APIs and page fetches."""
    try:
        parse_allow_hosts(settings.RESEARCH_ALLOW_HOSTS)
    except ValueError as exc:
        raise ConfigurationError(f"RESEARCH_ALLOW_HOSTS: {exc}") from exc
    return make_http_client(
        allow_hosts=settings.RESEARCH_ALLOW_HOSTS,
        user_agent=settings.RESEARCH_USER_AGENT,
        timeout=settings.RESEARCH_FETCH_TIMEOUT,
        max_bytes=settings.RESEARCH_MAX_BYTES,
        max_connections=max(settings.RESEARCH_FETCH_CONCURRENCY * 2, 10),
    )


@dataclass(frozen=True)
class ResearchOptions:
    """research()'s limits (its keyword arguments of the same names)."""

    max_sources: int
    min_sources: int
    fetch_concurrency: int
    results_per_query: int
    max_bytes: int
    deadline_s: float
    straggler_factor: float
    relevance_floor: float


def research_options_from_settings() -> ResearchOptions:
    """research()'s limits from settings."""
    return ResearchOptions(
        max_sources=settings.RESEARCH_MAX_SOURCES,
        min_sources=settings.RESEARCH_MIN_SOURCES,
        fetch_concurrency=settings.RESEARCH_FETCH_CONCURRENCY,
        results_per_query=settings.RESEARCH_RESULTS_PER_QUERY,
        max_bytes=settings.RESEARCH_MAX_BYTES,
        deadline_s=settings.RESEARCH_DEADLINE_S,
        straggler_factor=settings.RESEARCH_STRAGGLER_FACTOR,
        relevance_floor=settings.RESEARCH_RELEVANCE_FLOOR,
    )


@contextlib.asynccontextmanager
async def visitor_from_settings() -> AsyncIterator[Visitor]:
    """How pages are read: the shared cache and robots.txt and host slots (both in Redis,
    REDIS_URL) and the stall cut. Open it inside the event loop that uses it."""
    redis = Redis.from_url(settings.REDIS_URL)
    try:
        cache = None
        if settings.RESEARCH_CACHE_TTL > 0:
            cache = PageCache(
                redis,
                ttl=settings.RESEARCH_CACHE_TTL,
                max_bytes=settings.RESEARCH_CACHE_MAX_MB * 1024 * 1024,
            )
        manners = Manners(
            redis,
            user_agent=settings.RESEARCH_USER_AGENT,
            per_host=settings.RESEARCH_PER_HOST,
            max_delay=settings.RESEARCH_CRAWL_DELAY_MAX,
            slot_s=settings.RESEARCH_FETCH_TIMEOUT + settings.RESEARCH_CRAWL_DELAY_MAX + 5,
        )
        yield Visitor(cache=cache, manners=manners, stall_s=settings.RESEARCH_STALL_S)
    finally:
        await redis.aclose()
