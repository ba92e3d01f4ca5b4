"""Crash safety with real worker processes: every kill ends in exactly one post.

The stand-in LLM answers slowly, so a run is mid-write when the test kills a process.
"""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from blog.models import Post
from generation.models import GenerationRun, RunStatus
from generation.runs import service
from tests.generation.test_jobs import finished
from tests.workers import running_worker, start_worker, stop, wait_for

pytestmark = [
    pytest.mark.workers,
    pytest.mark.django_db(transaction=True),
    pytest.mark.llm_options(latency=0.4),
]


def horse_of(worker: psutil.Popen | object) -> psutil.Process:
    """The worker's work-horse: the forked child that leads its own process group
    (the other child is the RQ scheduler)."""

    def find() -> psutil.Process | None:
        for child in psutil.Process(worker.pid).children():
            try:
                if os.getpgid(child.pid) == child.pid:
                    return child
            except ProcessLookupError:
                continue
        return None

    return wait_for(find, timeout=30)


def in_stage(run_id: int, stage: str) -> bool:
    return GenerationRun.objects.filter(pk=run_id, stage=stage, status=RunStatus.RUNNING).exists()


def queue_run(author) -> GenerationRun:
    (run,) = service.enqueue_posts(count=1, topic="LLM optimization", author=author)
    return run


def test_killing_the_worker_alone_takes_its_horse_down_and_one_post_results(
    fast_env, author, standins
):
    run = queue_run(author)
    first = start_worker(fast_env)
    try:
        horse = horse_of(first)
        children = psutil.Process(first.pid).children()  # the horse and the RQ scheduler
        assert len(children) == 2
        wait_for(lambda: in_stage(run.pk, "outline"), timeout=30)
        os.kill(first.pid, signal.SIGKILL)  # the main process only
        # PR_SET_PDEATHSIG: the horse and the scheduler die with their parent, no orphans.
        gone, alive = psutil.wait_procs(children, timeout=5)
        assert not alive and horse in gone
        first.wait(timeout=5)
        killed_at = time.monotonic()
        # Nothing writes the run any more: no process of the killed worker is left to call
        # the LLM (its process group is empty too).
        with pytest.raises(ProcessLookupError):
            os.killpg(first.pid, 0)
        with running_worker(fast_env):
            run = wait_for(lambda: finished(run.pk), timeout=120)
        assert time.monotonic() - killed_at < 120
    finally:
        stop(first)
    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert Post.objects.count() == 1
    assert run.attempts == 2 and run.errors[0]["kind"] == "crash"


def test_killing_worker_and_horse_together_retries_on_another_worker_within_120s(
    fast_env, author, standins
):
    run = queue_run(author)
    first = start_worker(fast_env)
    second = None
    try:
        horse = horse_of(first)
        wait_for(lambda: in_stage(run.pk, "sections"), timeout=30)
        horse.kill()
        os.kill(first.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        second = start_worker(fast_env)
        wait_for(lambda: GenerationRun.objects.get(pk=run.pk).attempts == 2, timeout=120)
        retried_after = time.monotonic() - killed_at
        run = wait_for(lambda: finished(run.pk), timeout=120)
    finally:
        stop(first)
        if second:
            stop(second)
    assert retried_after < 120
    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert Post.objects.count() == 1
    assert run.attempts == 2
    assert [e["kind"] for e in run.errors] == ["crash"]
    # The retry resumed: the outline was written once, by the first attempt.
    assert standins.llm.counts["outline"] == 1


def test_killed_horse_is_retried_then_failed_with_the_signal_recorded(fast_env, author):
    run = queue_run(author)
    with running_worker(fast_env) as worker:
        for attempt in range(1, 5):
            wait_for(
                lambda a=attempt: GenerationRun.objects.filter(
                    pk=run.pk, attempts=a, status=RunStatus.RUNNING
                ).exists(),
                timeout=60,
            )
            horse_of(worker).kill()  # SIGKILL, as the OOM killer would
        run = wait_for(lambda: finished(run.pk), timeout=60)
    assert run.status == RunStatus.FAILED
    assert run.attempts == 4
    # One entry per attempt: the failure was recorded once each time.
    assert [e["attempt"] for e in run.errors] == [1, 2, 3, 4]
    assert all("signal 9" in e["error"] for e in run.errors)
    assert Post.objects.count() == 0
