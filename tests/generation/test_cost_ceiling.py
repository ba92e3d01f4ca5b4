"""GENERATION_MAX_RUN_USD holds a post that reaches it, and a retry after raising it
resumes without repeating a paid call; every run records its estimate beside its cost."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import TestCase
from django.utils import timezone

from generation.execution import operator as operations
from generation.execution import service as executing
from generation.models import GenerationRun, RunStatus
from generation.operations import estimates
from generation.runs import service

pytestmark = pytest.mark.django_db

HELD = "reaching GENERATION_MAX_RUN_USD ($0.00)"


def test_a_run_at_its_ceiling_is_held_and_resumes_after_raising_it(standins, author, settings):
    settings.GENERATION_MAX_RUN_USD = Decimal("0.000001")  # reached by the first call
    (run,) = executing.generate_posts(count=1, topic="LLM optimization", author=author)
    assert run.status == RunStatus.FAILED and run.post_id is None
    assert set(run.checkpoints) == {"topic"}  # stopped at the next stage boundary
    assert HELD in run.errors[-1]["error"] and run.errors[-1]["kind"] == "permanent"
    assert run.status_note.startswith("Held before research: this post has spent $")
    paid = dict(standins.llm.counts)
    assert sum(paid.values()) == run.llm_calls == 1

    # Retried with the ceiling unchanged: held again at once, no call made.
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert operations.runs_retry([run.pk]) == 1
    assert GenerationRun.objects.get(pk=run.pk).status_note == ""  # queued: no longer held
    with pytest.raises(Exception, match="GENERATION_MAX_RUN_USD"):
        executing.run_generation(run.pk)
    assert dict(standins.llm.counts) == paid

    settings.GENERATION_MAX_RUN_USD = Decimal("5")  # raised: the retry resumes
    with TestCase.captureOnCommitCallbacks(execute=True):
        operations.runs_retry([run.pk])
    run = executing.run_generation(run.pk)
    assert run.status == RunStatus.SUCCEEDED and run.post_id is not None, run.errors
    assert run.status_note == ""
    for kind, calls in paid.items():  # the topic's paid call was not made again
        assert standins.llm.counts[kind] == calls, kind
    assert run.llm_calls == standins.llm.total  # every call made once, and counted


def test_without_recent_runs_the_estimate_is_the_documented_formula(settings):
    settings.GENERATION_SECTIONS = 6
    settings.GENERATION_PRICES = {"m": (1.0, 2.0)}
    estimate = estimates.post_estimate("m")
    # 7 rounds x (10,000 prompt tokens at $1/M + 2,000 completion tokens at $2/M)
    assert estimate.usd == Decimal("0.098")
    assert estimate.basis.startswith("formula: 7 rounds")
    assert "no price" in estimates.post_estimate("unknown-model").basis


def test_the_estimate_is_the_median_of_recent_runs_of_the_same_model(author):
    for cost in ("0.01", "0.02", "0.90"):
        GenerationRun.objects.create(
            author=author, model="m", status=RunStatus.SUCCEEDED, cost_usd=Decimal(cost)
        )
    GenerationRun.objects.create(
        author=author, model="other", status=RunStatus.SUCCEEDED, cost_usd=Decimal("7")
    )
    estimate = estimates.post_estimate("m")
    assert estimate.usd == Decimal("0.02")
    assert estimate.basis == "median of the last 3 finished runs of m"


def test_runs_record_their_estimate_and_the_overview_shows_the_error(
    author, settings, admin_client_, django_capture_on_commit_callbacks
):
    settings.GENERATION_MODEL = "m"
    settings.GENERATION_PRICES = {"m": (1.0, 2.0)}
    with django_capture_on_commit_callbacks(execute=True):
        runs = service.enqueue_posts(count=2, topic="Redis", author=author)
    assert all(r.estimate_usd == Decimal("0.098") and r.model == "m" for r in runs)
    done = timezone.now() - timedelta(hours=1)
    GenerationRun.objects.filter(pk=runs[0].pk).update(
        status=RunStatus.SUCCEEDED, cost_usd=Decimal("0.1470"), finished_at=done
    )
    accuracy = estimates.estimate_accuracy()
    assert accuracy["runs"] == 1 and accuracy["median_error_percent"] == 50.0
    page = admin_client_.get("/admin/generation/overview/").content.decode()
    figures = r"estimated <strong>\$0\.0980</strong>, actual <strong>\$0\.1470</strong>"
    assert re.search(figures, page)
    assert "median error <strong>+50.0%</strong>" in page


def test_the_generate_form_shows_the_estimate_before_queueing(admin_client_, settings):
    settings.GENERATION_MODEL = "m"
    settings.GENERATION_PRICES = {"m": (1.0, 2.0)}
    settings.GENERATION_MAX_RUN_USD = Decimal("1.00")
    page = admin_client_.get("/admin/generation/generate/").content.decode()
    assert "Estimated cost: ~$0.0980 a post (formula: 7 rounds" in page
    assert "A post stops at $1.00 (GENERATION_MAX_RUN_USD)" in page
