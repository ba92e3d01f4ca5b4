"""Tags and excerpts our code controls, whatever the model proposes: no stop-words,
filler or tags under three letters; one tag per subject (case, plural), spelled as an
existing tag; the excerpt is the post's own lead, never the model's template."""

from __future__ import annotations

import pytest

from generation.execution import service
from generation.models import RunStatus
from generation.pipeline.metadata import lead_of
from generation.pipeline.tags import choose_tags, clean_tag, stop_words
from standins.hostile import HOSTILE_TAGS, TEMPLATE_EXCERPT
from tests.factories import make_post


def test_hostile_tag_list_keeps_only_subjects_once_each():
    chosen = choose_tags(list(HOSTILE_TAGS), existing=["Index", "PostgreSQL"])
    assert chosen == ["Index", "query plans", "b-tree", "redis"]


@pytest.mark.parametrize(
    ("name", "tag"),
    [
        ("First", ""),
        ("under the hood", ""),
        ("AI", ""),
        ("x", ""),
        ("2024", ""),
        ("The KV cache", "kv cache"),
        ("  Speculative   Decoding ", "speculative decoding"),
        ("<script>alert(1)</script>", "alert 1"),  # markup gone; the text is only text
        ("a practical guide", ""),
    ],
)
def test_clean_tag(name, tag):
    assert clean_tag(name) == tag


def test_plural_and_case_match_an_existing_tag_first():
    existing = ["Job retry", "Redis"]
    assert choose_tags(["job retries", "REDIS", "queues", "queue"], existing=existing) == [
        "Job retry",
        "Redis",
        "queues",
    ]


def test_lead_is_the_first_paragraph_of_prose_without_markers():
    body = "## Heading\n\nWorkers pull jobs from Redis [1]. Retries back off [2, 3].\n\nMore."
    assert lead_of(body) == "Workers pull jobs from Redis. Retries back off."


@pytest.mark.django_db
@pytest.mark.llm_options(hostile=["tags"])
def test_a_writer_proposing_bad_tags_and_a_template_excerpt_gets_neither(standins, author):
    make_post("An older post", author=author, tags=["Index"])

    (run,) = service.generate_posts(count=1, topic="PostgreSQL performance", author=author)

    assert run.status == RunStatus.SUCCEEDED, run.errors
    post = run.post
    names = sorted(post.tags.values_list("name", flat=True))
    assert names == sorted(["Index", "query plans", "b-tree", "redis"])
    assert not {name.lower() for name in names} & stop_words()
    assert post.excerpt != TEMPLATE_EXCERPT and "Every claim is cited" not in post.excerpt
    assert post.excerpt and post.body.startswith(post.excerpt.rstrip("…")[:60])
