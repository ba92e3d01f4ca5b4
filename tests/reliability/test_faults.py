"""Fault injection on the real stack: real workers, PostgreSQL, Redis, stand-in LLM and web.

Each scenario breaks one thing while a batch runs and then audits the end state: every
requested post exists exactly once, and no run claims a state that is not true.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import django_rq
import psutil
import pytest
from django.db import connection
from django.utils import timezone
from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job

from blog.models import Post
from generation import queues
from generation.models import GenerationRun, RunStatus
from generation.runs import service
from standins.llm_server import LLMStandin
from standins.writer import WriterResponder
from tests.factories import make_schedule
from tests.generation.test_crash import horse_of
from tests.generation.test_schedule_rqscheduler import processes
from tests.reliability.faults import (
    FAULT_ENV,
    assert_clean,
    audit,
    mid_run,
    posts_made,
    report_row,
    wait_finished,
    wait_progress,
)
from tests.scratch_redis import ScratchRedis
from tests.workers import ROOT, start_worker, stop, wait_for

pytestmark = [
    pytest.mark.workers,
    pytest.mark.django_db(transaction=True),
    # Slow enough that a fault lands mid-run, fast enough for a 20-run batch.
    pytest.mark.llm_options(latency=0.2),
]

TOPIC = "Redis and job queues"


@pytest.fixture
def env(worker_env, settings) -> dict[str, str]:
    settings.GENERATION_RETRY_INTERVALS = [1, 1, 1]
    return {**worker_env, **FAULT_ENV}


def queue_batch(author, count: int) -> list[int]:
    return [run.pk for run in service.enqueue_posts(count=count, topic=TOPIC, author=author)]


def redis():
    return queues.get_queue().connection


def wait_reclaimed(run_id: int, *, after_attempt: int, timeout: float = 60) -> float:
    """Wait until the run's next attempt has started; returns the time then."""
    wait_for(
        lambda: GenerationRun.objects.filter(pk=run_id, attempts__gt=after_attempt).exists(),
        timeout=timeout,
    )
    return time.monotonic()


def test_batch_survives_a_worker_sigkilled_three_times(env, author, reliability_report):
    run_ids = queue_batch(author, 20)
    steady, victim = start_worker(env), start_worker(env)
    recoveries = []
    try:
        for _ in range(3):
            horse_of(victim)  # busy with a run
            wait_for(lambda: mid_run(run_ids), timeout=60)
            made = posts_made(run_ids)
            stop(victim)  # SIGKILL to the worker's whole process group, its horse included
            killed = time.monotonic()
            victim = start_worker(env)  # as supervisor would
            recoveries.append(wait_progress(run_ids, beyond=made) - killed)
        wait_finished(run_ids)
    finally:
        stop(steady)
        stop(victim)
    found = audit(run_ids, redis())
    crashes = sum(
        e["kind"] == "crash" for r in GenerationRun.objects.filter(pk__in=run_ids) for e in r.errors
    )
    report_row(
        reliability_report,
        scenario="worker SIGKILL x3",
        injected=f"SIGKILL to one of 2 workers (and its horse) 3 times, restarted each time: "
        f"{crashes} attempts lost",
        expected=20,
        found=found,
        recover_s=f"{max(recoveries):.1f} (worst: kill to the next post)",
    )
    assert_clean(found, expected=20)
    assert 1 <= crashes <= 3  # each kill cost at most the attempt it interrupted


def test_run_retries_and_succeeds_when_its_database_connections_are_killed(
    env, author, reliability_report
):
    run_ids = queue_batch(author, 2)
    worker = start_worker(env)
    try:
        wait_for(lambda: mid_run(run_ids[:1]), timeout=60)
        with connection.cursor() as cursor:  # as superuser postgres: every other backend
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            (terminated,) = cursor.fetchone()
        dropped = time.monotonic()
        recover_s = wait_reclaimed(run_ids[0], after_attempt=1) - dropped
        wait_finished(run_ids)
    finally:
        stop(worker)
    found = audit(run_ids, redis())
    first = GenerationRun.objects.get(pk=run_ids[0])
    report_row(
        reliability_report,
        scenario="database connections killed",
        injected=f"pg_terminate_backend on the worker's {terminated} connection(s) mid-run",
        expected=2,
        found=found,
        recover_s=f"{recover_s:.1f} (to the run's next attempt)",
    )
    assert terminated >= 1
    assert_clean(found, expected=2)
    assert first.attempts >= 2 and first.errors, "the dropped connection cost an attempt"


def test_llm_down_past_the_first_retry_interval_then_back(
    env, author, standins, settings, reliability_report
):
    # 2 s between attempts: down 2.5 s, a run meets it down twice at most, of its 4 attempts.
    settings.GENERATION_RETRY_INTERVALS = [2, 2, 2]  # the job carries them
    run_ids = queue_batch(author, 3)
    port = int(standins.llm.base_url.rsplit(":", 1)[1].split("/")[0])
    worker = start_worker({**env, "GENERATION_RETRY_INTERVALS": "2,2,2"})
    revived = None
    try:
        wait_for(lambda: mid_run(run_ids[:1]), timeout=60)
        standins.llm.stop()  # connection refused from now on
        down = time.monotonic()
        # Down past the first retry interval: the retry meets it down too.
        wait_for(lambda: attempts(run_ids) >= 2 and time.monotonic() - down > 2.5, timeout=60)
        revived = LLMStandin(WriterResponder(), port=port).start()
        back = time.monotonic()
        recover_s = wait_progress(run_ids, beyond=0) - back
        wait_finished(run_ids)
    finally:
        stop(worker)
        if revived:
            revived.stop()
    found = audit(run_ids, redis())
    runs = list(GenerationRun.objects.filter(pk__in=run_ids))
    report_row(
        reliability_report,
        scenario="LLM endpoint down",
        injected="stand-in LLM stopped (connection refused) 2.5 s; retry interval 2 s",
        expected=3,
        found=found,
        recover_s=f"{recover_s:.1f} (endpoint back to first post)",
    )
    assert_clean(found, expected=3)
    assert sum(len(run.errors) for run in runs) >= 1  # the history shows the failed attempts
    assert all(run.attempts == len(run.errors) + 1 for run in runs)


def attempts(run_ids: list[int]) -> int:
    return max(GenerationRun.objects.filter(pk__in=run_ids).values_list("attempts", flat=True))


@pytest.mark.llm_options(latency=0.05)
def test_llm_slower_than_the_job_timeout_is_timed_out_and_retried(
    env, author, standins, settings, reliability_report
):
    settings.GENERATION_JOB_TIMEOUT = 6  # the job carries it: set where it is enqueued
    fault = standins.llm.inject(kind="outline", delay=15, times=None)
    run_ids = queue_batch(author, 1)
    worker = start_worker({**env, "GENERATION_JOB_TIMEOUT": "6"})
    try:
        wait_for(lambda: attempts(run_ids) >= 2, timeout=60)
        standins.llm.clear_faults()  # fast again
        fast_again = time.monotonic()
        wait_finished(run_ids)
        recover_s = time.monotonic() - fast_again
    finally:
        stop(worker)
    found = audit(run_ids, redis())
    run = GenerationRun.objects.get(pk=run_ids[0])
    report_row(
        reliability_report,
        scenario="LLM slower than job timeout",
        injected=f"outline answered after {fault.delay:g} s; job timeout 6 s",
        expected=1,
        found=found,
        recover_s=f"{recover_s:.1f} (LLM fast again to post)",
    )
    assert_clean(found, expected=1)
    # Every failed attempt was the job timeout (not the LLM client's own, at 120 s).
    assert run.errors and all(
        "Task exceeded maximum timeout value (6 seconds)" in error["error"] for error in run.errors
    )
    assert run.attempts == len(run.errors) + 1


def test_a_run_enqueued_again_and_again_makes_one_post(env, author, reliability_report):
    (run_id,) = queue_batch(author, 1)
    queues.push_runs([run_id], queue_name="content")  # a double click while it waits
    workers = [start_worker(env), start_worker(env)]
    try:
        wait_for(lambda: mid_run([run_id]), timeout=60)
        for _ in range(2):  # twice more while it runs: the second worker takes them
            queues.push_runs([run_id], queue_name="content")
        wait_finished([run_id])
        queues.push_runs([run_id], queue_name="content")  # and once it is done
        wait_for(lambda: django_rq.get_queue("content").count == 0, timeout=30)
        wait_for(lambda: not busy(workers), timeout=30)
    finally:
        for worker in workers:
            stop(worker)
    found = audit([run_id], redis())
    run = GenerationRun.objects.get(pk=run_id)
    executions = len(Job.fetch(queues.job_id_for(run_id), connection=redis()).results())
    report_row(
        reliability_report,
        scenario="duplicate enqueue",
        injected=f"the same run's job pushed 4 more times (waiting, running, done): "
        f"{executions} executions",
        expected=1,
        found=found,
        recover_s="n/a",
    )
    assert_clean(found, expected=1)
    assert run.attempts == 1 and run.errors == []
    assert executions >= 3  # the duplicates did reach workers, and did nothing


def busy(workers) -> bool:
    """A worker is busy while it has a horse (its own process group child)."""
    for worker in workers:
        for child in psutil.Process(worker.pid).children():
            try:
                if os.getpgid(child.pid) == child.pid:
                    return True
            except ProcessLookupError:
                continue
    return False


def tick_ended() -> datetime | None:
    """When the schedules' periodic tick last finished on a worker (None: not yet)."""
    try:
        return Job.fetch("periodic-schedules-tick", connection=redis()).ended_at
    except NoSuchJobError:
        return None


def wait_tick_after(ended: datetime | None) -> None:
    wait_for(lambda: tick_ended() not in (None, ended), timeout=30)


def test_two_schedulers_and_two_workers_make_one_set_of_runs(env, author, reliability_report):
    env = {**env, "SCHEDULE_TICK_SECONDS": "1", "SCHEDULE_GRACE_SECONDS": "120"}
    now = datetime.now(UTC)
    due = now - timedelta(seconds=30)
    # Due once a day, 30 s ago: the schedulers' first tick owes exactly one occurrence.
    schedule = make_schedule(
        cron=f"{due.minute} {due.hour} * * *",
        author=author,
        count=2,
        effective_from=now - timedelta(seconds=90),
    )
    workers = [start_worker(env, queues=("content", "default")) for _ in range(2)]
    started = time.monotonic()
    try:
        with processes(env, ["rqscheduler", "--interval", "1"], ["rqscheduler", "--interval", "1"]):
            wait_for(lambda: schedule.occurrences.filter(outcome="enqueued").exists(), timeout=60)
            fired = time.monotonic()
            run_ids = list(
                GenerationRun.objects.filter(schedule_occurrence__schedule=schedule).values_list(
                    "pk", flat=True
                )
            )
            wait_finished(run_ids)
            # Further ticks from the schedulers, after the runs finished: they add nothing.
            for _ in range(2):
                wait_tick_after(tick_ended())
    finally:
        for worker in workers:
            stop(worker)
    run_ids = list(
        GenerationRun.objects.filter(schedule_occurrence__schedule=schedule).values_list(
            "pk", flat=True
        )
    )
    found = audit(run_ids, redis())
    report_row(
        reliability_report,
        scenario="two schedulers, two workers",
        injected="2 rqscheduler + 2 workers (--with-scheduler) on one due occurrence, count=2",
        expected=2,
        found=found,
        recover_s=f"{fired - started:.1f} (start to occurrence enqueued)",
    )
    assert schedule.occurrences.count() == 1
    assert_clean(found, expected=2)
    assert Post.objects.count() == 2
    assert GenerationRun.objects.filter(status=RunStatus.SUCCEEDED).count() == 2


def enqueue_by_command(env: dict[str, str], *, count: int, author) -> list[int]:
    """The operator's door (`generate_deep_research_bg`), against the worker's Redis."""
    options = ["--json", "--count", str(count), "--topic", TOPIC, "--author", author.username]
    done = subprocess.run(
        [sys.executable, "manage.py", "generate_deep_research_bg", *options],
        cwd=ROOT,
        env={**env, "LOG_FILE": "command.log"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)["run_ids"]


def test_redis_restarted_mid_batch_loses_no_job(env, author, reliability_report):
    scratch = ScratchRedis(appendonly=True).start()
    env = {**env, "REDIS_URL": scratch.url}
    connection = Redis.from_url(scratch.url)
    workers = []
    try:
        run_ids = enqueue_by_command(env, count=6, author=author)
        workers = [start_worker(env), start_worker(env)]
        # Two runs mid-write, four still queued: the restart meets both kinds.
        wait_for(lambda: mid_run(run_ids), timeout=60)
        scratch.stop()  # SIGKILL: every acknowledged write is in the AOF already
        stopped = time.monotonic()
        wait_for(lambda: time.monotonic() - stopped > 3, timeout=10)
        scratch.start()
        back, back_at = time.monotonic(), timezone.now()
        # First progress that needs Redis: a job dequeued after the restart.
        wait_for(
            lambda: GenerationRun.objects.filter(
                pk__in=run_ids, attempt_started_at__gte=back_at
            ).exists(),
            timeout=60,
        )
        recover_s = time.monotonic() - back
        wait_finished(run_ids)
        alive = [worker.poll() is None for worker in workers]
        found = audit(run_ids, connection)
        failed_jobs = Queue("content", connection=connection).failed_job_registry.count
    finally:
        for worker in workers:
            stop(worker)
        scratch.stop()
    report_row(
        reliability_report,
        scenario="Redis restarted mid-batch",
        injected="redis-server (AOF, fsync always) SIGKILLed for 3 s mid-batch, then restarted",
        expected=6,
        found=found,
        recover_s=f"{recover_s:.1f} (Redis back to the next job dequeued)",
    )
    assert_clean(found, expected=6)
    assert failed_jobs == 0
    assert alive == [True, True]  # the workers waited for Redis: none exited
