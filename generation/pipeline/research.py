"""Stage 2, research: plan queries, search, fetch, extract and rank sources."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings

from generation import research as web
from generation.llm import LLMClient
from generation.pipeline import prompts


async def plan_queries(llm: LLMClient, *, topic: str, angle: str) -> list[str]:
    """3-6 search queries from the fast model, de-duplicated, the topic itself first."""
    answer = await llm.json(
        system=prompts.QUERIES_SYSTEM,
        user=prompts.queries_prompt(topic=topic, angle=angle),
        schema_name="search_queries",
        schema=prompts.QUERIES_SCHEMA,
        stage="research",
        fast=True,
        max_tokens=300,
    )
    queries: list[str] = []
    for query in [topic, *answer["queries"]]:
        query = " ".join(query.split())[:200]
        if query and query.lower() not in {q.lower() for q in queries}:
            queries.append(query)
    return queries[:6]


async def gather_sources(
    queries: list[str], *, on_progress: Callable[[str], None] | None = None
) -> list[web.SourceDoc]:
    """Search every provider for every query and fetch the results (kept ones first)."""
    async with web.http_client_from_settings() as http:
        return await web.research(
            queries,
            http=http,
            providers=web.providers_from_settings(),
            max_sources=settings.RESEARCH_MAX_SOURCES,
            fetch_concurrency=settings.RESEARCH_FETCH_CONCURRENCY,
            results_per_query=settings.RESEARCH_RESULTS_PER_QUERY,
            max_bytes=settings.RESEARCH_MAX_BYTES,
            on_progress=on_progress,
        )
