"""Helpers for the fault-injection tests: fast settings, waits and the end-of-batch audit.

The audit is the suites' one definition of "nothing lost, nothing twice, nothing lying":
every run succeeded with its own post, no other post exists, and no run claims a state
that Redis or the database contradicts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis import Redis
from rq.job import Job

from blog.models import Post
from generation.models import GenerationRun, RunStatus
from generation.queues import job_id_for
from tests.workers import FAST, wait_for

# Small posts and fast retries, leases and reaping: a run takes a second or two.
FAULT_ENV = {
    **FAST,
    "GENERATION_SECTIONS": "2",
    "RESEARCH_MAX_SOURCES": "4",
    "RESEARCH_MIN_SOURCES": "2",
}
WAITING = (RunStatus.QUEUED, RunStatus.RETRYING)
FINISHED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED)


@dataclass
class Audit:
    runs: int
    posts_found: int
    jobs_lost: int  # runs that ended without their post
    duplicates: int  # posts beyond one per run
    lies: list[str]  # states the database claims and reality contradicts

    def figures(self) -> dict[str, int]:
        return {
            "runs": self.runs,
            "posts_found": self.posts_found,
            "jobs_lost": self.jobs_lost,
            "duplicates": self.duplicates,
        }


MID_RUN = ("outline", "sections", "citations", "metadata")


def mid_run(run_ids: list[int]) -> bool:
    """True while one of the runs is running, past its research."""
    return GenerationRun.objects.filter(
        pk__in=run_ids, status=RunStatus.RUNNING, stage__in=MID_RUN
    ).exists()


def all_finished(run_ids: list[int]) -> bool:
    return not GenerationRun.objects.filter(pk__in=run_ids).exclude(status__in=FINISHED).exists()


def wait_finished(run_ids: list[int], *, timeout: float = 150) -> None:
    wait_for(lambda: all_finished(run_ids), timeout=timeout, every=0.25)


def posts_made(run_ids: list[int]) -> int:
    return GenerationRun.objects.filter(pk__in=run_ids, post__isnull=False).count()


def wait_progress(run_ids: list[int], *, beyond: int, timeout: float = 120) -> float:
    """Wait until more than `beyond` of the runs have their post; returns the time then."""
    wait_for(lambda: posts_made(run_ids) > beyond, timeout=timeout, every=0.1)
    return time.monotonic()


def audit(run_ids: list[int], connection: Redis) -> Audit:
    """The batch's end state, checked against Redis and the posts table."""
    runs = list(GenerationRun.objects.filter(pk__in=run_ids))
    posts = Post.objects.count()
    with_post = [run for run in runs if run.post_id]
    lies = [
        f"run {run.pk} is {run.status} with post {run.post_id}"
        for run in runs
        if bool(run.post_id) != (run.status == RunStatus.SUCCEEDED)
    ]
    for run in runs:
        job = Job.fetch_many([job_id_for(run.pk)], connection=connection)[0]
        if run.status in WAITING and job is None:
            lies.append(f"run {run.pk} is {run.status} without a job in Redis")
        if run.status == RunStatus.RUNNING:
            lies.append(f"run {run.pk} is still running after the batch ended")
    return Audit(
        runs=len(runs),
        posts_found=posts,
        jobs_lost=len(runs) - len(with_post),
        duplicates=posts - len({run.post_id for run in with_post}),
        lies=lies,
    )


def report_row(report, *, scenario: str, injected: str, expected: int, found: Audit, **extra):
    report.row(
        "Faults",
        scenario=scenario,
        injected=injected,
        posts_expected=expected,
        **found.figures(),
        **extra,
    )


def assert_clean(found: Audit, *, expected: int) -> None:
    assert found.lies == []
    assert found.runs == expected
    assert (found.posts_found, found.jobs_lost, found.duplicates) == (expected, 0, 0)
