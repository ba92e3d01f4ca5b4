#!/usr/bin/env python
"""Benchmark living posts: re-verify 50 published posts against the loopback web.

50 posts, each citing 3 pages of the stand-in corpus (33 pages, so pages are shared
between posts, as a blog's sources are). Their pages were read at generation (the bench
reads each once through the research path, filling the research cache, as research did),
and the copies are older than VERIFY_CACHE_MAX_AGE_S (set to 0), so every page is asked
again with a conditional request. Then the web changes: CHANGED pages are rewritten (their
cited passages gone; one of them keeps the very sentence its posts cite, so those claims
still hold), GONE pages answer 404; the rest are unchanged and answer 304 (they
carry an ETag). Pages take PAGE_DELAY to serve. RESEARCH_PER_HOST keeps its default (2):
the stand-in is one host, so every fetch of the batch shares its two slots.

The periodic tick queues the 50 verifications (VERIFY_BATCH=50); WORKERS threads run the
queued jobs (the job function itself, as a worker's work-horse would). With --judge,
GENERATION_CITATION_JUDGE is on and the claims that need checking again go to the
stand-in LLM's judge as well (the only LLM calls a verification makes).

Figures: fetches, 304s, cache hits, LLM calls, dollars, wall time, the most fetches one
host saw at once (measured at the stand-in), posts flagged, source verdicts.

Runs against BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/drb_bench,
created if missing) and BENCH_REDIS_URL (default redis://127.0.0.1:6379/14).
Usage: .venv/bin/python bench/verify_bench.py [--posts 50] [--workers 4] [--judge]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import standin_django  # noqa: E402
from standins.llm_server import LLMStandin  # noqa: E402
from standins.web import WebStandin  # noqa: E402
from standins.writer import WriterResponder  # noqa: E402

PAGE_DELAY = 0.05
CHANGED = 3  # pages rewritten
GONE = 2  # pages answering 404
REWRITTEN = (
    "This page was rewritten from top to bottom. It now covers tomato gardening, soil "
    "preparation and watering schedules for a dry summer. Nothing else remains here."
)


def configure(llm: LLMStandin, web: WebStandin, *, judge: bool, posts: int) -> None:
    standin_django(
        llm.base_url,
        web.base_url,
        web.host_port,
        GENERATION_CITATION_JUDGE="true" if judge else "false",
        VERIFY_BATCH=str(posts),
        VERIFY_CACHE_MAX_AGE_S="0",
    )


def fresh_start() -> None:
    """An empty blog, queue and research cache (earlier bench runs leave theirs)."""
    import redis
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from blog.models import Post
    from generation import queues

    Post.objects.filter(author__username="verify-bench").delete()
    get_user_model().objects.filter(username="verify-bench").delete()
    queues.get_queue("content").empty()
    conn = redis.Redis.from_url(settings.REDIS_URL)
    for key in conn.scan_iter(match="research:*"):
        conn.delete(key)


def published_posts(web: WebStandin, count: int) -> list:
    from django.contrib.auth import get_user_model

    from tests.generation.freshness_posts import sourced_post

    author = get_user_model().objects.create_user("verify-bench", password="unused-password-1")
    slugs = sorted(web.pages)
    return [
        sourced_post(web, [slugs[(3 * i + k) % len(slugs)] for k in range(3)], author=author)
        for i in range(count)
    ]


def read_at_generation(urls: list[str]) -> None:
    """Each page read once through research's path, as research did: into the cache."""
    from django.conf import settings

    from generation.research import http_client_from_settings, visitor_from_settings

    async def read_all() -> None:
        async with visitor_from_settings() as visitor, http_client_from_settings() as http:
            await asyncio.gather(*(visitor.read(http, url) for url in urls))

    asyncio.run(read_all())
    assert settings.VERIFY_CACHE_MAX_AGE_S == 0


def verify(ids: list[int], workers: int) -> float:
    from django.db import connection

    from generation.freshness.job import verify_post_job

    pending, lock = iter(ids), threading.Lock()

    def work() -> None:
        try:
            while True:
                with lock:
                    verification_id = next(pending, None)
                if verification_id is None:
                    return
                verify_post_job(verification_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--judge", action="store_true", help="GENERATION_CITATION_JUDGE on")
    args = parser.parse_args()
    with LLMStandin(WriterResponder()) as llm, WebStandin(page_delay=PAGE_DELAY) as web:
        configure(llm, web, judge=args.judge, posts=args.posts)
        from django.conf import settings
        from django.db.models import Sum

        from generation.freshness import service
        from generation.models import PostVerification
        from tests.generation.freshness_posts import a_sentence, page_text

        fresh_start()
        posts = published_posts(web, args.posts)
        urls = sorted({s.url for post in posts for s in post.sources.all()})
        read_at_generation(urls)
        slugs = sorted(web.pages)
        for slug in slugs[1:CHANGED]:
            web.add_page(slug, web.pages[slug].title, REWRITTEN)
        # One page keeps the sentence its posts cite, and nothing around it: the cited
        # passage is gone, the claims still hold (with --judge, the judge is asked).
        kept = a_sentence(page_text(web, slugs[0]))
        web.add_page(slugs[0], web.pages[slugs[0]].title, f"{kept}\n\nThe rest was replaced.")
        for slug in slugs[CHANGED : CHANGED + GONE]:
            web.gone[slug] = 404
        llm.reset()
        web.reset_counts()

        queued = service.verification_tick()
        wall = verify([v.pk for v in queued], args.workers)

        done = PostVerification.objects.filter(pk__in=[v.pk for v in queued])
        totals = done.aggregate(
            fetches=Sum("fetches"),
            not_modified=Sum("not_modified"),
            cache_hits=Sum("cache_hits"),
            llm_calls=Sum("llm_calls"),
            cost=Sum("cost_usd"),
            unchanged=Sum("sources_unchanged"),
            changed=Sum("sources_changed"),
            passage_gone=Sum("sources_passage_gone"),
            gone=Sum("sources_gone"),
            claims=Sum("claims_checked"),
            failed=Sum("claims_failed"),
        )
        statuses = sorted(set(done.values_list("status", flat=True)))
        flagged = done.filter(outcome="flagged").count()
        print(
            f"verified {done.filter(status='done').count()} of {len(queued)} posts "
            f"({len(urls)} distinct pages, 3 sources each; {CHANGED} pages rewritten, "
            f"{GONE} answering 404; statuses {statuses}); judge "
            f"{'on' if args.judge else 'off'}, {args.workers} workers"
        )
        print(
            f"fetches {totals['fetches']}, 304s {totals['not_modified']} (stand-in counted "
            f"{web.requests['not-modified']}), cache hits {totals['cache_hits']}, page "
            f"requests at the stand-in {web.requests['page']}"
        )
        print(
            f"sources: {totals['unchanged']} unchanged, {totals['changed']} changed, "
            f"{totals['passage_gone']} passage gone, {totals['gone']} gone; claims checked "
            f"again {totals['claims']}, failed {totals['failed']}; posts flagged {flagged}"
        )
        print(
            f"LLM calls {llm.total} (recorded {totals['llm_calls']}), "
            f"${totals['cost'] or 0:.6f}; wall {wall:.2f} s; most fetches at once on one "
            f"host {max(web.max_per_host.values(), default=0)} "
            f"(RESEARCH_PER_HOST={settings.RESEARCH_PER_HOST})"
        )


if __name__ == "__main__":
    main()
