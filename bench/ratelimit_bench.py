#!/usr/bin/env python
"""Posts a minute against an endpoint that enforces a rate limit, with the shared limiter
set to that limit (on) and with no limits set (off: each call sends at once; a 429's pause
is still shared).

The stand-in LLM enforces `--rpm` requests and `--tpm` tokens per `--window` seconds per
model (a 429 with Retry-After over it, counted as `over_limit`), like a provider's key.
Each configuration queues `--posts` posts, starts `--workers` real `manage.py rqworker
content --with-scheduler` processes and times from the enqueue to the last post. Reported:
posts a minute, and the ceiling the limit allows (the tokens and requests the posts used,
less what the full bucket lets through at once, at the limit's rate); 429s received;
wasted attempts (attempts beyond one per post: each failed attempt waits its retry);
tokens a minute used against the limit.

Runs against a scratch PostgreSQL database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/drb_ratelimit_bench, created if missing) and the Redis
database BENCH_REDIS_URL (default redis://127.0.0.1:6379/11), which it flushes.
Usage: .venv/bin/python bench/ratelimit_bench.py [--workers 8] [--posts 40] [--tpm 60000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/drb_ratelimit_bench"
)

from bench.throughput_bench import (  # noqa: E402
    PAGE_DELAY,
    settings_env,
    start_workers,
    wait_for_workers,
)
from standins.llm_server import LLMStandin  # noqa: E402
from standins.web import WebStandin  # noqa: E402
from standins.writer import WriterResponder  # noqa: E402

STILL_RUNNING = ("queued", "running", "retrying")


@dataclass
class Outcome:
    seconds: float
    posts: int
    failed: int
    attempts: int
    tokens: int
    calls: int
    rate_limited: int  # 429s the workers received
    over_limit: int  # requests the stand-in refused for being over its limit


def one_configuration(
    llm: LLMStandin, env: dict[str, str], *, workers: int, posts: int, limited: bool
) -> Outcome:
    from django.db.models import Sum

    from generation import queues, ratelimit
    from generation.models import GenerationRun, RunStatus
    from generation.runs import service

    limits = {
        "LLM_RPM": f"*={llm.rpm}" if limited else "",
        "LLM_TPM": f"*={llm.tpm}" if limited else "",
        "LLM_RATE_WINDOW_S": str(llm.window),
    }
    connection = queues.get_queue().connection
    connection.flushdb()
    GenerationRun.objects.all().delete()
    llm.reset()
    processes = start_workers(workers, {**env, **limits})
    try:
        wait_for_workers(workers)
        started = time.monotonic()
        ids = [r.pk for r in service.enqueue_posts(count=posts, topic="LLM optimization")]
        runs = GenerationRun.objects.filter(pk__in=ids)
        while runs.filter(status__in=STILL_RUNNING).exists():
            time.sleep(0.5)
        seconds = time.monotonic() - started
    finally:
        for process in processes:
            os.killpg(process.pid, 15)
        for process in processes:
            process.wait(timeout=60)
    sums = runs.aggregate(
        attempts=Sum("attempts"),
        prompt=Sum("prompt_tokens"),
        completion=Sum("completion_tokens"),
        calls=Sum("llm_calls"),
    )
    report = ratelimit.rate_report(connection, requests={}, tokens={}, window=llm.window)
    return Outcome(
        seconds=seconds,
        posts=runs.filter(status=RunStatus.SUCCEEDED).count(),
        failed=runs.filter(status=RunStatus.FAILED).count(),
        attempts=sums["attempts"] or 0,
        tokens=(sums["prompt"] or 0) + (sums["completion"] or 0),
        calls=sums["calls"] or 0,
        rate_limited=int(sum(row.totals["rate_limited"] for row in report)),
        over_limit=llm.over_limit,
    )


def ceiling_posts_per_minute(
    outcome: Outcome, posts: int, *, rpm: int, tpm: int, window: float
) -> float:
    """The fastest the limit allows these posts: each bucket starts full (one window's
    worth at once), then refills at limit/window; the tighter of the two decides."""
    seconds = max(
        (outcome.tokens - tpm) * window / tpm,
        (outcome.calls - rpm) * window / rpm,
        1e-9,
    )
    return posts / seconds * 60


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--posts", type=int, default=40)
    parser.add_argument("--rpm", type=int, default=300, help="requests per window, per model")
    parser.add_argument("--tpm", type=int, default=60_000, help="tokens per window, per model")
    parser.add_argument("--window", type=float, default=60.0, help="seconds")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per LLM call")
    parser.add_argument("--only", choices=("on", "off"), default=None)
    args = parser.parse_args()
    with (
        LLMStandin(
            WriterResponder(),
            latency=args.latency,
            rpm=args.rpm,
            tpm=args.tpm,
            window=args.window,
        ) as llm,
        WebStandin(page_delay=PAGE_DELAY) as web,
    ):
        # Failed attempts come back after 5 s (not the default 60 s), so the run without
        # limits ends in minutes; each is still counted as wasted.
        # One model for every call, so one bucket holds the whole limit.
        env = {
            **settings_env(llm, web),
            "GENERATION_RETRY_INTERVALS": "5,5,5",
            "GENERATION_FAST_MODEL": "standin-writer",
        }
        os.environ.update(env)
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        get_user_model().objects.get_or_create(username="bench", defaults={"is_staff": True})
        print(
            f"{args.workers} workers, {args.posts} posts; the stand-in allows {args.rpm} "
            f"requests and {args.tpm} tokens per {args.window:g} s per model; LLM latency "
            f"{args.latency}s, page delay {PAGE_DELAY}s, {os.cpu_count()} CPUs"
        )
        print(
            "| limiter | seconds | posts ok/failed | posts/min | ceiling posts/min | "
            "429s received | over-limit (stand-in) | wasted attempts | tokens/post | "
            "tokens/min used | TPM limit a minute |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for limited in (True, False):
            if args.only and args.only != ("on" if limited else "off"):
                continue
            out = one_configuration(
                llm, env, workers=args.workers, posts=args.posts, limited=limited
            )
            rate = out.posts / out.seconds * 60
            ceiling = ceiling_posts_per_minute(
                out, out.posts, rpm=args.rpm, tpm=args.tpm, window=args.window
            )
            print(
                f"| {'on' if limited else 'off (no limits set)'} | {out.seconds:.1f} | "
                f"{out.posts}/{out.failed} | {rate:.1f} | {ceiling:.1f} | {out.rate_limited} | "
                f"{out.over_limit} | {out.attempts - args.posts} | "
                f"{out.tokens / args.posts:.0f} | {out.tokens / out.seconds * 60:.0f} | "
                f"{args.tpm * 60 / args.window:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
