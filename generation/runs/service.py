"""The enqueue door for requests for posts: every command, the admin and the scheduler.

`enqueue_posts` validates a request, creates its runs in one INSERT and queues their jobs
in one Redis round trip after the transaction commits. Executing a run is the other
half's door (`generation.execution.service`); this module never loads the pipeline.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Unpack

from django.conf import settings
from django.db import transaction

from generation import queues
from generation.exceptions import BudgetExceeded, NoLLMEndpoint, QueueUnavailable
from generation.models import GenerationRun
from generation.operations import alerts, budget, estimates
from generation.runs import lifecycle
from generation.runs.request import GenerationRequest, QueueOptions, request_build

logger = logging.getLogger(__name__)


def enqueue_posts(*, count: int, **options: Unpack[QueueOptions]) -> list[GenerationRun]:
    """Queue `count` posts for background generation; returns their runs.

    Fails before writing anything when the input is bad or Redis is unreachable. The jobs
    reach Redis only after the runs' transaction commits, so a rolled-back caller leaves
    no job behind; should Redis fail at that moment, the runs are removed again.
    """
    request = estimated(request_build(count=count, **options))
    endpoint_require()
    budget_require()
    queues.ensure_reachable()
    with transaction.atomic():
        runs = lifecycle.runs_create(request)
    run_ids = [run.pk for run in runs]
    transaction.on_commit(lambda: _push_or_undo(run_ids, request, at=runs[0].scheduled_for))
    logger.info(
        "Queued %s run(s) %s on %s (topic=%r, delay=%ss, origin=%s)",
        len(run_ids),
        _id_span(run_ids),
        request.queue,
        request.topic,
        request.delay,
        request.origin,
    )
    return runs


def budget_require() -> None:
    """Refuse new runs once today's budget is spent (and tell the admins, once)."""
    try:
        budget.budget_require()
    except BudgetExceeded:
        alerts.alert_budget()
        raise


def endpoint_require() -> None:
    """Refuse, in one line saying what to set, a request no run of which could be written:
    no LLM endpoint (the offline demo's stand-ins set OPENAI_BASE_URL, so they count)."""
    if not settings.OPENAI_API_KEY.strip() and not settings.OPENAI_BASE_URL.strip():
        raise NoLLMEndpoint()


def estimated(request: GenerationRequest) -> GenerationRequest:
    """The request with one post's expected cost, recorded on each of its runs."""
    return replace(request, estimate_usd=estimates.post_estimate().usd)


def _push_or_undo(run_ids: list[int], request: GenerationRequest, *, at: datetime | None) -> None:
    try:
        queues.push_runs(run_ids, queue_name=request.queue, at=at)
    except QueueUnavailable:
        lifecycle.runs_discard(run_ids)
        raise


def _id_span(ids: list[int]) -> str:
    return f"#{ids[0]}" if len(ids) == 1 else f"#{ids[0]}..#{ids[-1]}"
