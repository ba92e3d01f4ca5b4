#!/usr/bin/env python
"""Benchmark one post against a "messy web" at default settings (prints figures).

The stand-in search returns every other result unusable (an address the guard refuses, a
redirect to loopback, a binary file, an oversized page, a 404) and one page that never
finishes; good pages take 300 ms each. The stand-in LLM answers after 0.4 s plus its
completion tokens at 150 tokens/s. Every setting keeps its default except the addresses
of the stand-ins (and RESEARCH_PER_HOST, raised to 8: the stand-in is one host:port).

Figures: whether the post was made; research's end against the arrival of the last page
it kept (target: within 2 s); the whole post's wall time against its sequential cost
(the sum of every LLM call's latency and every page's delay; the page that never
finishes is left out, though a one-fetch-at-a-time pipeline would wait its whole
timeout for it) (target: <= 0.4).

Runs against BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/drb_bench,
created if missing) and BENCH_REDIS_URL (default redis://127.0.0.1:6379/14).
Usage: .venv/bin/python bench/research_bench.py [--runs 3] [--topic "LLM optimization"]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import standin_django  # noqa: E402
from standins.llm_server import LLMStandin  # noqa: E402
from standins.web import WebStandin  # noqa: E402
from standins.writer import WriterResponder  # noqa: E402

PAGE_DELAY = 0.3
LATENCY = 0.4
TOKENS_PER_SECOND = 150


def configure(llm: LLMStandin, web: WebStandin) -> None:
    # The stand-in serves many "sites" from one host:port; the real web's sites each
    # get RESEARCH_PER_HOST (default 2) fetches at once.
    standin_django(llm.base_url, web.base_url, web.host_port, RESEARCH_PER_HOST="8")


def one_post(llm: LLMStandin, web: WebStandin, topic: str) -> dict:
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from blog.models import Post
    from generation.execution import service
    from generation.models import GenerationRun, ResearchSource

    user, _ = get_user_model().objects.get_or_create(username="bench")
    # Each post starts from the same blog: earlier bench posts would change its angle.
    Post.objects.filter(author=user).delete()
    GenerationRun.objects.filter(author=user).delete()
    llm.reset()
    web.reset_counts()
    _empty_research_cache()
    stage_ends: dict[str, float] = {}

    def progress(event) -> None:  # a generation.progress.RunEvent
        if event.kind == "finished":
            stage_ends[event.stage] = time.monotonic()

    started = time.monotonic()
    (run,) = service.generate_posts(count=1, topic=topic, author=user, progress=progress)
    wall = time.monotonic() - started
    sources = ResearchSource.objects.filter(run=run)
    kept = [s.url for s in sources if s.status == "kept"]
    arrivals = [web.finished_at[_path(url)] for url in kept if _path(url) in web.finished_at]
    return {
        "run": run,
        "wall": wall,
        "sequential": _sequential(llm, web, run),
        "research_end": stage_ends.get("research", started) - max(arrivals, default=started),
        "tried": sources.count(),
        "kept": len(kept),
        "cut": [s.reason for s in sources if s.reason.startswith("cut:")],
        "refused": sum(s.reason.startswith("refused") for s in sources),
        "pages": web.requests["page"],
        "timeout": settings.RESEARCH_FETCH_TIMEOUT,
    }


def _empty_research_cache() -> None:
    """Each post fetches its pages (the research cache would serve them from the second)."""
    import redis
    from django.conf import settings

    conn = redis.Redis.from_url(settings.REDIS_URL)
    for key in conn.scan_iter(match="research:*"):
        conn.delete(key)


def _path(url: str) -> str:
    return urlsplit(url).path


def _sequential(llm: LLMStandin, web: WebStandin, run) -> float:
    """Every LLM call's latency plus every served page's delay, one after another."""
    calls = len(llm.requests)
    llm_seconds = calls * llm.seconds_for(0) + run.completion_tokens / TOKENS_PER_SECOND
    return llm_seconds + web.requests["page"] * PAGE_DELAY


def report(result: dict) -> None:
    run = result["run"]
    if run.status != "succeeded":
        sys.exit(f"benchmark run failed: {run.errors}")
    ratio = result["wall"] / result["sequential"]
    with_hang = result["wall"] / (result["sequential"] + result["timeout"])
    print(
        f"  post made: {run.post.title!r}; sections "
        f"{len(run.checkpoints['outline']['sections'])}, LLM calls {run.llm_calls}"
    )
    print(
        f"  research {run.timings['research']:.2f}s: {result['tried']} pages recorded, "
        f"{result['pages']} corpus pages fetched, {result['kept']} kept, "
        f"{result['refused']} refused, cut: {result['cut'] or 'none'}"
    )
    print(
        f"  research ended {result['research_end']:.2f}s after the last kept page arrived "
        "(target <= 2 s)"
    )
    print(
        f"  wall {result['wall']:.2f}s / sequential {result['sequential']:.2f}s = {ratio:.2f} "
        f"(target <= 0.40); {with_hang:.2f} counting the unfinished page at its timeout"
    )
    print("  stages: " + ", ".join(f"{k} {v:.2f}s" for k, v in run.timings.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--warmup", type=int, default=1, help="untimed posts first (imports, connections)"
    )
    parser.add_argument("--topic", default="LLM optimization")
    args = parser.parse_args()
    llm = LLMStandin(WriterResponder(), latency=LATENCY, tokens_per_second=TOKENS_PER_SECOND)
    with llm, WebStandin(page_delay=PAGE_DELAY, messy=True) as web:
        configure(llm, web)
        from django.conf import settings

        print(
            f"messy web, defaults: GENERATION_LLM_CONCURRENCY {settings.GENERATION_LLM_CONCURRENCY}"
            f", RESEARCH_FETCH_CONCURRENCY {settings.RESEARCH_FETCH_CONCURRENCY}, "
            f"RESEARCH_RESULTS_PER_QUERY {settings.RESEARCH_RESULTS_PER_QUERY}, "
            f"RESEARCH_FETCH_TIMEOUT {settings.RESEARCH_FETCH_TIMEOUT:g}s"
        )
        for _ in range(args.warmup):
            one_post(llm, web, args.topic)
        for number in range(1, args.runs + 1):
            print(f"run {number}: topic {args.topic!r}")
            report(one_post(llm, web, args.topic))


if __name__ == "__main__":
    main()
