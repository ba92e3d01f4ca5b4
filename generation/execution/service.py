"""The execution door: run one run through the pipeline (a worker's job, or in-process).

`run_generation` executes one run from its first unfinished stage; `generate_posts` is the
synchronous command's door (create the runs, then execute them here, one after another).
The pipeline (the `openai` SDK, trafilatura, the stages) loads on first use: workers
preload it before they fork (`generation.execution.worker`), no other process needs it.
"""

from __future__ import annotations

from typing import Unpack

from django.db import transaction

from generation.models import GenerationRun, Origin, RunStatus
from generation.operations import metrics
from generation.runs import lifecycle
from generation.runs.progress import EventKind, EventSink, RunEvent, fan_out, ignore
from generation.runs.request import PostOptions, request_build
from generation.runs.service import budget_require, endpoint_require, estimated


def generate_posts(
    *, count: int, progress: EventSink | None = None, **options: Unpack[PostOptions]
) -> list[GenerationRun]:
    """Generate posts now, in this process, one after another (the synchronous door).

    Each run gets a single attempt; a failed one is recorded and the next one still runs.
    """
    request = estimated(request_build(count=count, origin=Origin.SYNC, max_attempts=1, **options))
    endpoint_require()
    budget_require()
    with transaction.atomic():
        runs = lifecycle.runs_create(request)
    emit = progress or ignore
    for run in runs:
        emit(RunEvent(run.pk, EventKind.WAITING, status=RunStatus.QUEUED))
    return [_generate_one(run, emit) for run in runs]


def _generate_one(run: GenerationRun, emit: EventSink) -> GenerationRun:
    try:
        run = run_generation(run.pk, worker_name="sync", progress=emit)
    except Exception:
        run.refresh_from_db()
        if run.status == RunStatus.QUEUED:
            raise  # never started: not a pipeline failure, nothing recorded it
        metrics.inc("runs_failed")  # one attempt only: this failure is final
    emit(RunEvent(run.pk, EventKind.DONE, stage=run.stage, status=run.status))
    return run


def run_generation(
    run_id: int,
    *,
    worker_name: str = "",
    progress: EventSink | None = None,
) -> GenerationRun:
    """Execute one run from its first unfinished stage; returns the finished run.

    Errors are stored on the run (one entry per attempt) and re-raised for the caller
    (RQ records them and retries). Attempts, stage times, tokens and cost go to /metrics.
    """
    # The pipeline (openai, trafilatura, the stages) loads here, on first use: workers
    # preload it before they fork (generation.execution.worker), no other process needs it.
    from generation.pipeline.runner import execute_run

    before = _usage(run_id)
    try:
        run = execute_run(run_id, worker_name=worker_name, progress=fan_out(_metered, progress))
    finally:
        _record_usage(run_id, before)
    metrics.inc("runs_succeeded")
    return run


def _metered(event: RunEvent) -> None:
    if event.kind == EventKind.ATTEMPT:
        metrics.inc("runs_started")
    elif event.kind == EventKind.FINISHED and event.seconds is not None:
        metrics.observe("stage_duration_seconds", event.seconds, stage=event.stage)


USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "cost_usd")


def _usage(run_id: int) -> dict:
    return GenerationRun.objects.filter(pk=run_id).values(*USAGE_FIELDS).first() or {}


def _record_usage(run_id: int, before: dict) -> None:
    """What this attempt used: the run's totals now, less what it had before."""
    after = _usage(run_id)
    if not before or not after:
        return
    metrics.record_usage(
        prompt_tokens=after["prompt_tokens"] - before["prompt_tokens"],
        completion_tokens=after["completion_tokens"] - before["completion_tokens"],
        cost_usd=float(after["cost_usd"] - before["cost_usd"]),
    )
