"""Too little evidence: the run fails at once, says why, and an operator's retry starts
research afresh."""

from __future__ import annotations

import pytest

from generation import queues
from generation.execution import operator as operations
from generation.execution import service
from generation.models import GenerationRun, ResearchSource, RunStatus
from generation.queues import job_id_for
from generation.runs.service import enqueue_posts
from standins.web import load_corpus
from tests.workers import running_worker, wait_for


def empty_the_web(web) -> None:
    """Searches find only unusable pages: a private address, a 404 and an image."""
    with web._lock:
        web.pages.clear()
    web.pin_result("http://10.9.8.7/llm-guide", "LLM optimization guide")
    web.pin_result(f"{web.base_url}/status/404", "LLM optimization notes")
    web.pin_result(f"{web.base_url}/image.png", "LLM optimization diagram")


def restore_the_web(web) -> None:
    with web._lock:
        web.pinned.clear()
        web.pages.update({page.slug: page for page in load_corpus()})


@pytest.mark.django_db
def test_run_without_evidence_fails_at_once_saying_why(standins, author):
    empty_the_web(standins.web)

    (run,) = service.generate_posts(count=1, topic="LLM optimization", author=author)

    assert run.status == RunStatus.FAILED
    assert run.attempts == 1 and len(run.errors) == 1
    error = run.errors[0]
    assert (error["stage"], error["kind"], error["restart"]) == (
        "research",
        "permanent",
        "research",
    )
    message = error["error"]
    assert message.startswith("NotEnoughSources: Not enough evidence: 0 usable sources, 3 needed.")
    assert "Searched searxng for 'LLM optimization';" in message
    assert "http://10.9.8.7/llm-guide (refused: private address 10.9.8.7)" in message
    assert f"{standins.web.base_url}/status/404 (HTTP 404)" in message
    # One second round of queries, then the decision: no outline was ever asked for.
    assert standins.llm.counts["more_search_queries"] == 1
    assert standins.llm.counts["outline"] == 0
    reasons = dict(ResearchSource.objects.filter(run=run).values_list("url", "reason"))
    assert reasons["http://10.9.8.7/llm-guide"] == "refused: private address 10.9.8.7"


@pytest.mark.django_db
def test_operator_retry_starts_research_afresh(standins, author):
    empty_the_web(standins.web)
    (run,) = service.generate_posts(count=1, topic="LLM optimization", author=author)
    assert run.status == RunStatus.FAILED
    restore_the_web(standins.web)
    searches = standins.web.requests["search"]

    assert operations.runs_retry([run.pk]) == 1
    run = service.run_generation(run.pk)

    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert standins.web.requests["search"] > searches
    assert ResearchSource.objects.filter(run=run, status="kept").count() >= 3
    assert not ResearchSource.objects.filter(run=run, url="http://10.9.8.7/llm-guide").exists()


@pytest.mark.django_db
def test_operator_retry_drops_a_thin_research_checkpoint(author):
    """Failed at the outline for want of sources: research and later stages are redone."""
    checkpoints = {
        "topic": {"topic": "Redis", "angle": "retries"},
        "research": {"queries": ["redis"], "kept": 2, "found": 9},
        "sections_partial": {"section:0": "text"},
    }
    thin = GenerationRun.objects.create(
        topic="Redis",
        author=author,
        status=RunStatus.FAILED,
        checkpoints=checkpoints,
        errors=[
            {
                "attempt": 1,
                "stage": "outline",
                "error": "NotEnoughSources: ...",
                "restart": "research",
            }
        ],
    )
    other = GenerationRun.objects.create(
        topic="Redis",
        author=author,
        status=RunStatus.FAILED,
        checkpoints=checkpoints,
        errors=[{"attempt": 1, "stage": "sections", "error": "LLMError: 503"}],
    )

    assert operations.runs_retry([thin.pk, other.pk]) == 2

    thin.refresh_from_db()
    other.refresh_from_db()
    assert thin.checkpoints == {"topic": checkpoints["topic"]}
    assert thin.status == RunStatus.QUEUED
    assert other.checkpoints == checkpoints  # any other failure resumes where it stopped


@pytest.mark.workers
@pytest.mark.django_db(transaction=True)
def test_worker_fails_a_run_without_evidence_without_scheduling_retries(fast_env, author, standins):
    empty_the_web(standins.web)
    (run,) = enqueue_posts(count=1, topic="LLM optimization", author=author)
    with running_worker(fast_env):
        run = wait_for(
            lambda: GenerationRun.objects.filter(pk=run.pk, status=RunStatus.FAILED).first(),
            timeout=60,
        )
        registry = queues.get_queue().failed_job_registry
        wait_for(lambda: job_id_for(run.pk) in registry.get_job_ids())  # failed for good in RQ too
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.attempts == 1 and len(run.errors) == 1
    assert run.next_retry_at is None
    assert run.errors[0]["kind"] == "permanent"
    assert standins.llm.counts["topic_angle"] == 1


@pytest.mark.workers
@pytest.mark.django_db(transaction=True)
def test_a_run_whose_pages_failed_with_server_errors_is_retried_and_succeeds(
    fast_env, author, standins
):
    """Research short because the sites answered 503 is a passing failure: the run goes
    to the usual retries instead of failing for good, and reads the pages once they answer."""
    web = standins.web
    with web._lock:
        web.gone.update({slug: 503 for slug in web.pages})
    (run,) = enqueue_posts(count=1, topic="LLM optimization", author=author)
    with running_worker(fast_env):
        wait_for(lambda: GenerationRun.objects.filter(pk=run.pk).exclude(errors=[]).first())
        with web._lock:
            web.gone.clear()
        run = wait_for(
            lambda: GenerationRun.objects.filter(pk=run.pk, status=RunStatus.SUCCEEDED).first(),
            timeout=90,
        )
    first = run.errors[0]
    assert (first["stage"], first["kind"]) == ("research", "error")  # not "permanent"
    assert "lost to timeouts or server errors: a retry may read them" in first["error"]
    assert 2 <= run.attempts <= 4 and all(e["kind"] == "error" for e in run.errors)
    assert run.post is not None
