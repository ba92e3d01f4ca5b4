"""Stage 2, research: plan queries, then search, fetch, extract and rank sources, with a
second round of queries from other angles when the first finds too little."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import httpx

from generation import research as web
from generation.pipeline import prompts
from generation.pipeline.llm import LLMClient
from generation.pipeline.types import ResearchResult, TopicPlan


async def plan_queries(llm: LLMClient, *, topic: str, angle: str) -> list[str]:
    """3-6 search queries from the fast model, de-duplicated, the topic itself first."""
    user = prompts.queries_prompt(topic=topic, angle=angle)
    answer = await _ask(llm, prompts.QUERIES_SYSTEM, user, schema_name="search_queries")
    return _distinct([topic, *answer])[:6]


async def more_queries(llm: LLMClient, *, topic: str, angle: str, tried: list[str]) -> list[str]:
    """Up to 5 new queries from other angles, none of them already tried (fast model)."""
    user = prompts.more_queries_prompt(topic=topic, angle=angle, tried=tried)
    answer = await _ask(llm, prompts.MORE_QUERIES_SYSTEM, user, schema_name="more_search_queries")
    known = {query.lower() for query in tried}
    return [query for query in _distinct(answer) if query.lower() not in known][:5]


async def _ask(llm: LLMClient, system: str, user: str, *, schema_name: str) -> list[str]:
    answer = await llm.json(
        system=system,
        user=user,
        schema_name=schema_name,
        schema=prompts.QUERIES_SCHEMA,
        stage="research",
        fast=True,
        max_tokens=300,
    )
    return answer["queries"]


def _distinct(queries: list[str]) -> list[str]:
    distinct: list[str] = []
    for query in queries:
        query = " ".join(str(query).split())[:200]
        if query and query.lower() not in {known.lower() for known in distinct}:
            distinct.append(query)
    return distinct


async def investigate(
    llm: LLMClient,
    http: httpx.AsyncClient,
    *,
    plan: TopicPlan,
    providers: Sequence[web.Provider],
    options: web.ResearchOptions,
    visitor: web.Visitor | None = None,
    on_progress: Callable[[str], None],
) -> web.Findings:
    """Plan queries, then search every provider for every query and fetch the results
    (kept ones first), with a second round from other angles when the first finds too
    little. `options` are research()'s limits (research.factory); `visitor` reads each page."""
    queries = await plan_queries(llm, topic=plan.topic, angle=plan.angle)
    on_progress(f"{len(queries)} queries")

    async def other_angles(tried: list[str]) -> list[str]:
        return await more_queries(llm, topic=plan.topic, angle=plan.angle, tried=tried)

    return await web.research(
        queries,
        http=http,
        providers=providers,
        more_queries=other_angles,
        on_progress=on_progress,
        max_sources=options.max_sources,
        min_sources=options.min_sources,
        fetch_concurrency=options.fetch_concurrency,
        results_per_query=options.results_per_query,
        max_bytes=options.max_bytes,
        deadline_s=options.deadline_s,
        straggler_factor=options.straggler_factor,
        relevance_floor=options.relevance_floor,
        visitor=visitor,
        topic=plan.topic,
    )


def result_of(findings: web.Findings, *, kept: int) -> ResearchResult:
    return ResearchResult(
        queries=tuple(findings.queries),
        kept=kept,
        found=len(findings.docs),
        rounds=findings.rounds,
        cut=findings.stats["cut"],
        refused=findings.stats["refused"],
        cache_hits=findings.stats["cache_hits"],
        revalidated=findings.stats["revalidated"],
    )
