"""Redis Sentinel failover under a batch: the master SIGKILLed mid-batch, the replica promoted.

Two workers stand in for two hosts (their own working directory, log directory and name);
everything (the command that queues, the workers, their RQ scheduler) reaches Redis only
through three redis-sentinel processes. The audit is the fault suite's: every post made
once, none lost, no run lying about its state.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.utils import timezone
from redis import Redis
from rq import Queue
from rq.job import Job

from generation.models import GenerationRun
from tests.reliability.faults import FAULT_ENV, assert_clean, audit, mid_run, report_row
from tests.reliability.sentinel_cluster import SentinelCluster
from tests.reliability.test_faults import enqueue_by_command
from tests.workers import ROOT, stop, wait_for

pytestmark = [
    pytest.mark.workers,
    pytest.mark.django_db(transaction=True),
    pytest.mark.llm_options(latency=0.2),
]


def start_host_worker(env: dict[str, str], home: Path, name: str) -> subprocess.Popen:
    """A worker as on its own host: its own working directory, logs and name."""
    home.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "rqworker",
            "content",
            "--with-scheduler",
            "--name",
            name,
        ],
        cwd=home,
        env={**env, "LOG_DIR": str(home / "logs"), "LOG_FILE": "worker.log"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def start_scheduler(env: dict[str, str], home: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "rqscheduler", "--interval", "1"],
        cwd=home,
        env={
            **env,
            "SCHEDULE_TICK_SECONDS": "1",  # a periodic job every second
            "LOG_DIR": str(home / "logs"),
            "LOG_FILE": "scheduler.log",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def periodic_enqueued_since(master: Redis, since: datetime) -> bool:
    """rqscheduler put a periodic job (the schedules' tick) on `default` after `since`."""
    jobs = Job.fetch_many(Queue("default", connection=master).get_job_ids(), connection=master)
    return any(job and job.enqueued_at and job.enqueued_at > since for job in jobs)


def stages_done(run_ids: list[int]) -> int:
    return sum(
        len(c)
        for c in GenerationRun.objects.filter(pk__in=run_ids).values_list("checkpoints", flat=True)
    )


def test_sentinel_promotes_the_replica_and_the_batch_loses_nothing(
    worker_env, author, tmp_path, reliability_report
):
    cluster = SentinelCluster().start()
    env = {**worker_env, **FAULT_ENV, **cluster.env()}
    workers = []
    try:
        run_ids = enqueue_by_command(env, count=10, author=author)
        workers = [
            start_host_worker(env, tmp_path / "host-a", "host-a-worker"),
            start_host_worker(env, tmp_path / "host-b", "host-b-worker"),
            start_scheduler(env, tmp_path / "host-a"),
        ]
        old_port = cluster.master_port_now()
        wait_for(lambda: mid_run(run_ids), timeout=90)
        done_at_kill, killed_at = stages_done(run_ids), timezone.now()
        killed_utc = datetime.now(UTC)
        cluster.kill_master()
        killed = time.monotonic()
        wait_for(lambda: stages_done(run_ids) > done_at_kill, timeout=120, every=0.05)
        next_stage_s = time.monotonic() - killed
        wait_for(lambda: cluster.master_port_now() not in (None, old_port), timeout=60)
        promoted_s = time.monotonic() - killed
        # The first job a worker took from the new master.
        wait_for(
            lambda: GenerationRun.objects.filter(
                pk__in=run_ids, attempt_started_at__gt=killed_at
            ).exists(),
            timeout=120,
        )
        dequeued_s = time.monotonic() - killed
        wait_for(
            lambda: (
                not GenerationRun.objects.filter(pk__in=run_ids)
                .exclude(status__in=("succeeded", "failed", "canceled"))
                .exists()
            ),
            timeout=240,
            every=0.25,
        )
        # rqscheduler goes on enqueuing its periodic jobs, on the new master.
        master = cluster.master()
        wait_for(lambda: periodic_enqueued_since(master, killed_utc), timeout=30)
        alive = [worker.poll() is None for worker in workers]
        found = audit(run_ids, cluster.master())
        logs = [(tmp_path / h / "logs" / "worker.log").exists() for h in ("host-a", "host-b")]
    finally:
        for worker in workers:
            stop(worker)
        cluster.stop()
    report_row(
        reliability_report,
        scenario="Sentinel failover mid-batch",
        injected="Redis master SIGKILLed mid-batch (2 workers as 2 hosts, 3 sentinels, quorum 2); "
        "the replica promoted",
        expected=10,
        found=found,
        recover_s=f"{next_stage_s:.1f} (kill to next finished stage); promoted after "
        f"{promoted_s:.1f}; first job from the new master after {dequeued_s:.1f}",
    )
    assert_clean(found, expected=10)
    assert alive == [True, True, True]  # both workers and rqscheduler waited for the new master
    assert logs == [True, True]
