#!/usr/bin/env python
"""Benchmark the pipeline's concurrency against its sequential cost (prints figures).

(a) One 6-section post with the stand-in LLM answering at a fixed latency and token rate
    and stand-in pages that each take 300 ms: wall time against the sum of every LLM
    call's and every page fetch's latency (what a one-call-at-a-time pipeline would take).
(b) The research stage alone for 20 pages: wall time against one page's delay.

Runs against a scratch PostgreSQL database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/drb_bench, created if missing) and Redis db 14.
Usage: .venv/bin/python bench/pipeline_bench.py [--latency 0.4] [--tps 150]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import standin_django  # noqa: E402
from standins.llm_server import LLMStandin  # noqa: E402
from standins.web import WebStandin  # noqa: E402
from standins.writer import WriterResponder  # noqa: E402

PAGE_DELAY = 0.3


def configure(llm: LLMStandin, web: WebStandin, concurrency: int | None) -> None:
    extra = {"GENERATION_LLM_CONCURRENCY": str(concurrency)} if concurrency is not None else {}
    standin_django(llm.base_url, web.base_url, web.host_port, GENERATION_SECTIONS="6", **extra)
    # The pipeline loads on first use; a worker imports it before any job
    # (generation.execution.worker):
    # time the pipeline, not the import.
    from generation.execution import worker

    worker.preload()


def bench_post(llm: LLMStandin, web: WebStandin) -> dict:
    from django.contrib.auth import get_user_model

    from generation.execution import service

    user, _ = get_user_model().objects.get_or_create(username="bench")
    llm.reset()
    web.reset_counts()
    started = time.perf_counter()
    (run,) = service.generate_posts(count=1, topic="LLM optimization", author=user)
    wall = time.perf_counter() - started
    if run.status != "succeeded":
        sys.exit(f"benchmark run failed: {run.errors}")
    # Each call costs the stand-in's latency model: fixed seconds + its tokens at the rate.
    calls = len(llm.requests)
    llm_sequential = (
        calls * llm.seconds_for(0) + llm.seconds_for(run.completion_tokens) - llm.seconds_for(0)
    )
    fetch_sequential = web.requests["page"] * PAGE_DELAY
    return {
        "wall": wall,
        "llm_calls": len(llm.requests),
        "sections": len(run.checkpoints["outline"]["sections"]),
        "pages": web.requests["page"],
        "sequential": llm_sequential + fetch_sequential,
        "llm_sequential": llm_sequential,
        "fetch_sequential": fetch_sequential,
        "timings": run.timings,
    }


def bench_research(concurrency: int) -> float:
    from generation.research import http_client_from_settings, providers_from_settings, research

    with WebStandin(None, page_delay=PAGE_DELAY, max_results=20) as web:
        for i in range(20):
            web.add_page(f"bench-{i}", f"Benchmark page {i}", _page_text(i))
        from django.conf import settings

        settings.SEARXNG_URL, settings.RESEARCH_ALLOW_HOSTS = web.base_url, [web.host_port]

        async def main() -> list:
            async with http_client_from_settings() as http:
                return await research(
                    ["queue benchmark"],
                    http=http,
                    providers=providers_from_settings(),
                    max_sources=20,
                    fetch_concurrency=concurrency,
                    results_per_query=20,
                )

        started = time.perf_counter()
        docs = asyncio.run(main()).docs
        wall = time.perf_counter() - started
        kept = sum(doc.status == "kept" for doc in docs)
        if web.requests["page"] != 20 or kept != 20:
            sys.exit(f"research bench fetched {web.requests['page']} pages, kept {kept}")
        return wall


def _page_text(i: int) -> str:
    return " ".join(
        f"Queue benchmark page {i} paragraph {p} explains worker {i * p} pickup latency, "
        f"retry interval {p} and the idempotency key number {i}{p} in some detail."
        for p in range(12)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.4, help="LLM seconds per call")
    parser.add_argument("--tps", type=float, default=150, help="LLM completion tokens/second")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="GENERATION_LLM_CONCURRENCY (default: its default)",
    )
    args = parser.parse_args()
    llm = LLMStandin(WriterResponder(), latency=args.latency, tokens_per_second=args.tps)
    with llm, WebStandin(page_delay=PAGE_DELAY) as web:
        configure(llm, web, args.concurrency)
        post = bench_post(llm, web)
    from django.conf import settings

    print(
        f"(a) one post, LLM {args.latency}s + {args.tps:g} tok/s per call, pages {PAGE_DELAY}s, "
        f"GENERATION_LLM_CONCURRENCY {settings.GENERATION_LLM_CONCURRENCY}"
    )
    print(f"    sections {post['sections']}, LLM calls {post['llm_calls']}, pages {post['pages']}")
    print(
        f"    sequential cost {post['sequential']:.2f}s (LLM {post['llm_sequential']:.2f}s "
        f"+ fetch {post['fetch_sequential']:.2f}s)"
    )
    ratio = post["wall"] / post["sequential"]
    print(f"    wall time {post['wall']:.2f}s = {ratio:.2f} of sequential (target <= 0.40)")
    print("    stages: " + ", ".join(f"{k} {v:.2f}s" for k, v in post["timings"].items()))
    for concurrency in sorted({settings.RESEARCH_FETCH_CONCURRENCY, 20}):
        wall = bench_research(concurrency)
        print(
            f"(b) research, 20 pages of {PAGE_DELAY}s, fetch concurrency {concurrency}: "
            f"{wall:.2f}s = {wall / PAGE_DELAY:.1f}x one page (target <= 3x)"
        )


if __name__ == "__main__":
    main()
