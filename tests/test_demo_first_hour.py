"""The offline demo lasts a newcomer's first hour: at least 30 posts without a topic, each
on its own subject, before the stand-in runs out (and then the error says how to add
subjects). In-process, against the demo's own stand-ins (the messy search included)."""

from __future__ import annotations

import socket
from collections import Counter

import pytest

from generation.execution import service
from generation.models import RunStatus
from standins.demo import demo_standins

pytestmark = pytest.mark.django_db

POSTS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def demo(settings):
    ports = {"DEMO_LLM_PORT": str(free_port()), "DEMO_WEB_PORT": str(free_port())}
    with demo_standins(ports) as env:
        settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY = env["OPENAI_BASE_URL"], "demo"
        settings.GENERATION_MODEL = env["GENERATION_MODEL"]
        settings.GENERATION_FAST_MODEL = env["GENERATION_FAST_MODEL"]
        settings.RESEARCH_PROVIDERS = ["searxng"]
        settings.SEARXNG_URL = env["SEARXNG_URL"]
        settings.RESEARCH_ALLOW_HOSTS = [env["RESEARCH_ALLOW_HOSTS"]]
        settings.GENERATION_TOPICS = []
        yield env


def test_thirty_posts_without_a_topic_each_on_its_own_subject(demo, author):
    runs = []
    for _ in range(POSTS // 5):  # batches of five, as a newcomer clicks "Generate posts"
        runs += service.generate_posts(count=5, topic="", author=author, publish=True)

    failed = {run.pk: run.errors[-1]["error"][:200] for run in runs if run.errors}
    assert [run.status for run in runs] == [RunStatus.SUCCEEDED] * POSTS, failed
    topics = Counter(run.topic for run in runs)
    assert len(topics) == POSTS, topics.most_common(3)
    titles = [run.post.title for run in runs]
    assert len(set(titles)) == POSTS
    angles = Counter(run.checkpoints["topic"]["angle"] for run in runs)
    assert angles.most_common(1)[0][1] <= POSTS // 3  # not one angle for every post
    excerpts = [run.post.excerpt for run in runs]
    assert len(set(excerpts)) == POSTS  # each post's own lead
    openings = Counter(" ".join(excerpt.split()[:3]) for excerpt in excerpts)
    assert openings.most_common(1)[0][1] <= POSTS // 3  # not one template for every post
    assert len({run.post.category_id for run in runs}) > 3


def test_when_the_demo_runs_dry_the_error_says_how_to_add_subjects(demo, author, settings):
    from standins.writer import THEMES
    from tests.factories import make_post

    for theme in THEMES:
        make_post(f"{theme}: the complete guide", author=author)

    (run,) = service.generate_posts(count=1, topic="", author=author)

    assert run.status == RunStatus.FAILED
    error = run.errors[-1]["error"]
    assert "GENERATION_TOPICS" in error and "RESEARCH_LOCAL_DIR" in error
