"""Topic choice without --topic: candidates in one call, distinct reserved topics per batch,
a configured topic's new angle when every suggestion is covered, no hopeless retries."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from generation.execution import service
from generation.models import GenerationRun, RunStatus
from generation.pipeline import store
from generation.pipeline.types import TopicPlan
from generation.runs.lifecycle import run_claim
from generation.runs.titles import is_covered
from standins.writer import THEMES
from tests.factories import make_post

pytestmark = pytest.mark.django_db


def test_batch_of_three_without_topic_takes_three_distinct_uncovered_topics(standins, author):
    # The stand-in always suggests "LLM optimization" first, and the blog already covers it.
    make_post("LLM optimization: a practical guide for engineers", author=author)

    runs = service.generate_posts(count=3, topic="", author=author)

    assert [run.status for run in runs] == [RunStatus.SUCCEEDED] * 3, [r.errors for r in runs]
    chosen = [run.topic for run in runs]
    assert len(set(chosen)) == 3
    assert THEMES[0] not in chosen
    assert set(chosen) <= set(THEMES)
    # One call per run asked for candidates; nobody retried.
    assert standins.llm.counts["topic_candidates"] == 3
    assert all(run.attempts == 1 and not run.errors for run in runs)


def test_every_suggestion_covered_falls_back_to_a_configured_topic(standins, author, settings):
    for theme in THEMES:
        make_post(f"{theme}: the complete guide", author=author)
    settings.GENERATION_TOPICS = ["Redis and job queues"]

    (run,) = service.generate_posts(count=1, topic="", author=author)

    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert run.topic == "Redis and job queues"
    assert run.checkpoints["topic"]["angle"]
    assert standins.llm.counts["topic_candidates"] == 1
    assert standins.llm.counts["topic_angle"] == 1


def test_every_suggestion_covered_and_nothing_configured_fails_at_once(standins, author):
    for theme in THEMES:
        make_post(f"{theme}: the complete guide", author=author)

    (run,) = service.generate_posts(count=1, topic="", author=author)

    assert run.status == RunStatus.FAILED
    assert run.attempts == 1
    (error,) = run.errors
    assert (error["stage"], error["kind"]) == ("topic", "permanent")
    assert error["error"].startswith("NoFreshTopic: Every topic the model suggested is covered")
    assert "GENERATION_TOPICS is empty" in error["error"]
    assert standins.llm.counts["search_queries"] == 0  # nothing spent past the topic


def test_a_title_naming_the_topic_covers_it():
    assert is_covered("Redis and job queues", ["Redis and job queues: a practical guide"])
    assert is_covered("redis", ["Redis and job queues: a practical guide"])
    assert is_covered("LLM optimisation", ["LLM optimization"])  # near duplicate
    assert not is_covered("Python async I/O", ["Python packaging: a practical guide"])


@pytest.mark.django_db(transaction=True)
def test_concurrent_reservations_in_one_batch_take_distinct_topics(author):
    runs = [
        GenerationRun.objects.create(author=author, batch="b1", batch_index=i, batch_size=4)
        for i in range(4)
    ]
    leases = [run_claim(run.pk) for run in runs]
    candidates = [TopicPlan(topic=theme, angle="an angle") for theme in THEMES]
    results: dict[int, object] = {}
    start = threading.Barrier(len(runs))

    def reserve(index: int) -> None:
        try:
            start.wait()
            results[index] = store.topic_reserve(leases[index], runs[index], candidates)
        finally:
            connection.close()

    threads = [threading.Thread(target=reserve, args=(i,)) for i in range(len(runs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    taken = sorted(GenerationRun.objects.filter(batch="b1").values_list("topic", flat=True))
    assert taken == sorted(THEMES[:4])
    assert sorted(result.topic for result in results.values()) == sorted(THEMES[:4])
