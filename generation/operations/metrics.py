"""Prometheus metrics for /metrics, kept in Redis so every process adds to the same figures.

Why not prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR): RQ forks a new
work-horse for every job, and that mode keeps one set of files per process id that every
scrape reads again (client_python#204: scrapes slow down as files pile up); and web and
workers often run in separate containers or hosts that share no directory, but do share
Redis. So events are counted with HINCRBY(FLOAT) in a few Redis hashes, from any gunicorn
worker, RQ worker or work-horse, and `RedisCollector` turns them, plus the queues' live
state, into prometheus-client metric families at scrape time.

Recording never breaks a run: when Redis is unreachable an event is dropped (and logged).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import cast

from django.conf import settings
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from redis import Redis
from redis.exceptions import RedisError

from generation import queues, ratelimit
from generation.operations import health, monitoring, pause

logger = logging.getLogger(__name__)

KEY = "drb:metrics:"
COUNTERS = {
    "runs_started": ("Run attempts started", ()),
    "runs_succeeded": ("Runs that made their post", ()),
    "runs_failed": ("Runs failed for good (attempts spent or a permanent error)", ()),
    "runs_retried": ("Failed attempts that will be retried", ()),
    "llm_tokens": ("LLM tokens used", ("kind",)),
    "llm_cost_usd": ("Estimated LLM cost in USD", ()),
    "posts_verified": ("Published posts whose sources were read again (living posts)", ()),
    "posts_flagged": ("Verifications that flagged their post as needing a refresh", ()),
    "sources_dead": ("Cited sources found gone (404/410, no answer) when read again", ()),
    "sources_not_modified": ("Cited sources read again that answered 304 Not Modified", ()),
}
HISTOGRAMS = {
    "queue_wait_seconds": (
        "Seconds from enqueue to start of a generation job",
        ("queue",),
        (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
    ),
    "stage_duration_seconds": (
        "Seconds per pipeline stage",
        ("stage",),
        (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
    ),
}


def _connection() -> Redis:
    return queues.get_queue("default").connection


def _field(labels: dict[str, str]) -> str:
    return json.dumps(labels, sort_keys=True)


def inc(name: str, amount: float = 1, **labels: str) -> None:
    """Add `amount` to counter `name` (one of COUNTERS)."""
    try:
        _connection().hincrbyfloat(KEY + name, _field(labels), amount)
    except (RedisError, OSError) as exc:
        logger.warning("Metric %s not recorded: %s", name, exc)


def observe(name: str, value: float, **labels: str) -> None:
    """Record one observation of histogram `name` (one of HISTOGRAMS)."""
    buckets = HISTOGRAMS[name][2]
    field = _field(labels)
    try:
        with _connection().pipeline(transaction=True) as pipe:
            for bound in (*buckets, "+Inf"):
                if bound == "+Inf" or value <= float(bound):
                    pipe.hincrby(KEY + name, f"{field}|{bound}", 1)
            pipe.hincrbyfloat(KEY + name, f"{field}|sum", value)
            pipe.execute()
    except (RedisError, OSError) as exc:
        logger.warning("Metric %s not recorded: %s", name, exc)


def record_usage(*, prompt_tokens: int, completion_tokens: int, cost_usd: float) -> None:
    if prompt_tokens:
        inc("llm_tokens", prompt_tokens, kind="prompt")
    if completion_tokens:
        inc("llm_tokens", completion_tokens, kind="completion")
    if cost_usd:
        inc("llm_cost_usd", cost_usd)


class RedisCollector(Collector):
    """Everything /metrics shows, read from Redis at scrape time."""

    def collect(self) -> Iterator:
        redis = _connection()
        yield from _live_gauges()
        yield from _rate_limit_families(redis)
        for name, (doc, labels) in COUNTERS.items():
            family = CounterMetricFamily(f"drb_{name}", doc, labels=labels)
            for field, value in _hash(redis, KEY + name).items():
                family.add_metric(_label_values(field, labels), float(value))
            yield family
        for name, (doc, labels, buckets) in HISTOGRAMS.items():
            yield _histogram(f"drb_{name}", doc, labels, buckets, _hash(redis, KEY + name))


def _label_values(field: bytes | str, labels: tuple[str, ...]) -> list[str]:
    data = json.loads(field)
    return [str(data.get(label, "")) for label in labels]


def _hash(redis: Redis, key: str) -> dict[bytes, bytes]:
    return cast(dict[bytes, bytes], redis.hgetall(key))  # redis-py types it sync-or-async


def _histogram(
    name: str, doc: str, labels: tuple[str, ...], buckets: Sequence[float], raw: dict
) -> HistogramMetricFamily:
    series: dict[str, dict[str, float]] = defaultdict(dict)
    for key, value in raw.items():
        field, part = key.decode().rsplit("|", 1)
        series[field][part] = float(value)
    family = HistogramMetricFamily(name, doc, labels=labels)
    for field, parts in series.items():
        bucket_values = [(str(float(b)), parts.get(str(b), 0.0)) for b in buckets]
        bucket_values.append(("+Inf", parts.get("+Inf", 0.0)))
        family.add_metric(_label_values(field, labels), bucket_values, parts.get("sum", 0.0))
    return family


def _live_gauges() -> Iterator:
    depth = GaugeMetricFamily("drb_queue_depth", "Jobs waiting per queue", labels=["queue"])
    failed = GaugeMetricFamily("drb_queue_failed_jobs", "Failed jobs per queue", labels=["queue"])
    for counts in monitoring.queue_counts():
        depth.add_metric([counts.name], counts.waiting)
        failed.add_metric([counts.name], counts.failed)
    oldest = GaugeMetricFamily(
        "drb_queue_oldest_job_age_seconds", "Age of the oldest waiting job", labels=["queue"]
    )
    for name, age in health.oldest_waiting_seconds().items():
        oldest.add_metric([name], age)
    workers = GaugeMetricFamily("drb_workers_live", "Live RQ workers per queue", labels=["queue"])
    live = [info for info in monitoring.workers_list() if info.alive]
    for name in settings.RQ_QUEUE_NAMES:
        workers.add_metric([name], sum(1 for info in live if name in info.queues))
    paused = GaugeMetricFamily(
        "drb_paused", "1 while generation is paused (queue_pause, RQ's suspend), else 0"
    )
    paused.add_metric([], 1 if pause.pause_state(_connection()) else 0)
    yield from (depth, failed, oldest, workers, paused)


RATE_COUNTERS = {
    "waits": ("llm_rate_waits", "LLM calls that waited for the rate limit"),
    "wait_seconds": ("llm_rate_wait_seconds", "Seconds LLM calls waited for the rate limit"),
    "rate_limited": ("llm_rate_limited", "429 answers received (each paused the endpoint)"),
    "requests": ("llm_rate_requests", "LLM requests sent through the rate limit"),
}


def _rate_limit_families(redis: object) -> Iterator:
    """Per endpoint and model: waits, 429s, and tokens and requests a minute vs the limit."""
    labels = ["endpoint", "model"]
    counters = {
        name: CounterMetricFamily(f"drb_{metric}", doc, labels=labels)
        for name, (metric, doc) in RATE_COUNTERS.items()
    }
    gauges = {
        "tpm": GaugeMetricFamily(
            "drb_llm_tokens_per_minute", "LLM tokens used in the last minute", labels=labels
        ),
        "tpm_limit": GaugeMetricFamily(
            "drb_llm_tokens_per_minute_limit", "LLM_TPM, a minute", labels=labels
        ),
        "rpm": GaugeMetricFamily(
            "drb_llm_requests_per_minute", "LLM requests in the last minute", labels=labels
        ),
        "rpm_limit": GaugeMetricFamily(
            "drb_llm_requests_per_minute_limit", "LLM_RPM, a minute", labels=labels
        ),
        "share": GaugeMetricFamily(
            "drb_llm_rate_wait_share",
            "Share of LLM call time spent waiting for the limit (10 min)",
            labels=labels,
        ),
    }
    for row in ratelimit.report_from_settings(redis):
        values = [row.endpoint, row.model]
        for name, family in counters.items():
            family.add_metric(values, row.totals.get(name, 0.0))
        gauges["tpm"].add_metric(values, row.tokens_last_minute)
        gauges["rpm"].add_metric(values, row.requests_last_minute)
        gauges["share"].add_metric(values, row.wait_share)
        if row.tpm_limit is not None:
            gauges["tpm_limit"].add_metric(values, row.tpm_limit)
        if row.rpm_limit is not None:
            gauges["rpm_limit"].add_metric(values, row.rpm_limit)
    yield from (*counters.values(), *gauges.values())
