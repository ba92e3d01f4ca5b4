"""Health checks turning bad and good again, `queue_health`, /healthz and /readyz, against
real Redis (including one that goes away), PostgreSQL and worker processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from generation import queues
from generation.models import GenerationRun, RunStatus
from generation.operations import health
from generation.scheduling.periodic import periodic_jobs
from tests.scratch_redis import ScratchRedis, free_port
from tests.workers import ROOT, running_worker, start_worker, stop, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def level(name: str) -> health.Level:
    return next(r for r in health.run_checks() if r.name == name).level


def _run(author, **fields) -> GenerationRun:
    return GenerationRun.objects.create(author=author, topic="Redis", **fields)


def test_queue_depth_turns_bad_past_the_limit_and_good_when_drained(settings):
    settings.QUEUE_DEPTH_ALERT = 2
    queue = queues.get_queue("video")
    for _ in range(3):
        queue.enqueue("os.getpid")
    assert level("queue_depth") == health.Level.WARNING
    queue.empty()
    assert level("queue_depth") == health.Level.OK


def test_failures_in_the_last_hour_turn_bad_then_age_out(settings, author):
    settings.FAILED_JOBS_ALERT = 2
    failed = [_run(author, status=RunStatus.FAILED, finished_at=timezone.now()) for _ in range(2)]
    assert level("failures") == health.Level.WARNING
    GenerationRun.objects.filter(pk=failed[0].pk).update(
        finished_at=timezone.now() - timedelta(hours=2)
    )
    assert level("failures") == health.Level.OK


def test_stuck_run_turns_bad_then_good_once_it_ends(settings, author):
    settings.GENERATION_JOB_TIMEOUT = 30
    run = _run(author, status=RunStatus.RUNNING, attempt_started_at=timezone.now())
    assert level("stuck_runs") == health.Level.OK
    GenerationRun.objects.filter(pk=run.pk).update(
        attempt_started_at=timezone.now() - timedelta(seconds=120)
    )
    assert level("stuck_runs") == health.Level.WARNING
    GenerationRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED)
    assert level("stuck_runs") == health.Level.OK


@pytest.mark.workers
def test_workers_check_is_critical_without_a_live_content_worker(worker_env):
    assert level("workers") == health.Level.CRITICAL
    worker = start_worker(worker_env)
    try:
        wait_for(lambda: level("workers") == health.Level.OK, timeout=30)
    finally:
        stop(worker, sig=signal.SIGTERM)  # a warm stop: the worker deregisters itself
    wait_for(lambda: level("workers") == health.Level.CRITICAL, timeout=30)


@pytest.mark.workers
def test_queue_wait_turns_bad_while_a_job_waits_and_good_once_a_worker_takes_it(
    worker_env, settings
):
    settings.QUEUE_WAIT_ALERT_S = 1
    queues.get_queue("video").enqueue("os.getpid")
    wait_for(lambda: level("queue_wait") == health.Level.WARNING, timeout=10)
    with running_worker(worker_env, queues=("video",)):
        wait_for(lambda: level("queue_wait") == health.Level.OK, timeout=30)


def _scheduler(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "rqscheduler", "--interval", "1"],
        cwd=ROOT,
        env={**env, "LOG_FILE": "scheduler.log"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.workers
def test_scheduler_check_follows_rqscheduler_which_registers_the_health_job_once(
    worker_env, redis_conn
):
    from django_rq import get_scheduler

    assert level("scheduler") == health.Level.WARNING
    first = _scheduler(worker_env)
    try:
        wait_for(lambda: level("scheduler") == health.Level.OK, timeout=30)
        scheduler = get_scheduler("default")
        wait_for(lambda: all(job.id in scheduler for job in periodic_jobs()), timeout=10)
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=20)
    assert level("scheduler") == health.Level.WARNING  # a clean stop marks it dead at once
    second = _scheduler(worker_env)
    try:
        wait_for(lambda: level("scheduler") == health.Level.OK, timeout=30)
        ids = [job.id for job in scheduler.get_jobs()]
        assert ids.count("periodic-health-check") == 1  # registering again replaced it
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=20)


def _queue_health(env: dict[str, str]) -> tuple[int, dict]:
    done = subprocess.run(
        [sys.executable, "manage.py", "queue_health", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, json.loads(done.stdout)


def _levels(report: dict) -> dict[str, str]:
    return {check["name"]: check["level"] for check in report["checks"]}


@pytest.mark.workers
def test_redis_check_turns_critical_when_redis_goes_and_ok_when_it_is_back(worker_env):
    redis = ScratchRedis().start()
    env = {**worker_env, "REDIS_URL": redis.url}
    try:
        code, report = _queue_health(env)
        assert _levels(report)["redis"] == "ok"
        assert code == 2 and _levels(report)["workers"] == "critical"  # none on that Redis
        redis.stop()
        code, report = _queue_health(env)
        assert code == 2 and report["status"] == "critical"
        levels = _levels(report)
        assert levels["redis"] == "critical"
        # Checks that need Redis are not run (one alert, not six); database ones still are.
        assert levels["queue_depth"] == levels["workers"] == "unknown"
        assert levels["failures"] == "ok"
        redis.start()
        code, report = _queue_health(env)
        assert _levels(report)["redis"] == "ok"
    finally:
        redis.stop()


def test_queue_health_prints_one_line_per_check_and_exits_with_the_worst_level(
    capsys, settings, author
):
    with pytest.raises(SystemExit) as exit_info:
        call_command("queue_health")
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == health.NAMES
    assert exit_info.value.code == 2  # no worker on content: critical
    assert lines[3].startswith("CRITICAL workers")
    settings.GENERATION_DAILY_BUDGET_USD = 5
    with pytest.raises(SystemExit):
        call_command("queue_health", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "critical" and report["checks"][-1]["name"] == "budget"


def test_healthz_answers_without_asking_anything(client):
    response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")  # a probe, by IP
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_says_ready_when_database_and_redis_answer(client):
    response = client.get("/readyz", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.workers
def test_readyz_fails_while_redis_is_down(worker_env):
    """gunicorn serving the real app, against a Redis that is taken away and brought back."""
    redis = ScratchRedis().start()
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "-b", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env={**worker_env, "REDIS_URL": redis.url, "LOG_FILE": "web.log"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/readyz"
    try:
        assert wait_for(lambda: _try(url), timeout=30) == (200, "ok")
        redis.stop()
        status, body = _get(url)
        assert status == 503 and body["redis"].startswith("error") and body["database"] == "ok"
        assert _get(f"http://127.0.0.1:{port}/healthz")[0] == 200  # alive all the same
        redis.start()
        assert wait_for(lambda: _try(url), timeout=30) == (200, "ok")
    finally:
        web.terminate()
        web.wait(timeout=20)
        redis.stop()


def _try(url: str) -> tuple[int, str] | None:
    try:
        status, body = _get(url)
    except OSError:
        return None  # not listening yet
    return (status, body["status"]) if status == 200 else None
