"""/metrics: its token guard, and figures recorded by real work-horses (other processes)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from generation import queues
from generation.models import STAGE_ORDER, GenerationRun, RunStatus
from generation.runs import service
from tests.workers import ROOT, running_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "metrics-secret-token-1"


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_do_not_exist_without_a_token_configured(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


def test_metrics_refuse_a_missing_or_wrong_token(client, settings, admin_client_):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=TOKEN).status_code == 401  # no scheme
    assert admin_client_.get("/metrics").status_code == 401  # a session is not a token


def test_queue_gauges_show_depth_and_oldest_age(client, settings, author):
    settings.METRICS_TOKEN = TOKEN
    service.enqueue_posts(count=3, topic="Redis", author=author)
    samples = scrape(client)
    assert value(samples, "drb_queue_depth", queue="content") == 3
    assert value(samples, "drb_queue_depth", queue="email") == 0
    assert value(samples, "drb_queue_oldest_job_age_seconds", queue="content") >= 0
    assert ("drb_queue_oldest_job_age_seconds", (("queue", "content"),)) in samples
    assert value(samples, "drb_workers_live", queue="content") == 0


@pytest.mark.workers
def test_runs_recorded_in_work_horses_add_up_in_any_process(
    client, settings, fast_env, author, standins
):
    settings.METRICS_TOKEN = TOKEN
    standins.llm.inject(kind="section", status=503, times=1)  # attempt 1 fails, 2 succeeds
    runs = service.enqueue_posts(count=2, topic="LLM optimization", author=author)
    with running_worker(fast_env):
        wait_for(
            lambda: GenerationRun.objects.filter(status=RunStatus.SUCCEEDED).count() == 2,
            timeout=120,
        )
        wait_for(lambda: value(scrape(client), "drb_runs_succeeded_total") == 2, timeout=10)
        samples = scrape(client)
        assert value(samples, "drb_workers_live", queue="content") == 1
    runs = list(GenerationRun.objects.filter(pk__in=[r.pk for r in runs]))
    assert value(samples, "drb_runs_started_total") == sum(r.attempts for r in runs) == 3
    assert value(samples, "drb_runs_retried_total") == 1
    assert value(samples, "drb_runs_failed_total") == 0
    prompt = sum(r.prompt_tokens for r in runs)
    completion = sum(r.completion_tokens for r in runs)
    assert value(samples, "drb_llm_tokens_total", kind="prompt") == prompt > 0
    assert value(samples, "drb_llm_tokens_total", kind="completion") == completion > 0
    cost = float(sum(r.cost_usd for r in runs))
    assert value(samples, "drb_llm_cost_usd_total") == pytest.approx(cost, rel=1e-6)
    # Every attempt waited in the queue once; each run finished each stage once.
    assert value(samples, "drb_queue_wait_seconds_count", queue="content") == 3
    for stage in STAGE_ORDER:
        assert value(samples, "drb_stage_duration_seconds_count", stage=stage) == 2, stage
        assert value(samples, "drb_stage_duration_seconds_bucket", stage=stage, le="+Inf") == 2
    assert queues.get_queue().count == 0


def test_metrics_answer_503_with_a_reason_while_redis_is_down():
    """A fresh process (its Redis connection made from REDIS_URL) with Redis gone."""
    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "r = Client().get('/metrics', HTTP_AUTHORIZATION='Bearer ' + 'm' * 40)\n"
        "print(r.status_code, r.content.decode().strip())\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "REDIS_URL": "redis://127.0.0.1:6390/0",  # nothing listens there
        "METRICS_TOKEN": "m" * 40,
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    status, _, reason = result.stdout.strip().partition(" ")
    assert status == "503"
    assert reason == "Metrics unavailable: Redis is unreachable (ConnectionError)."
