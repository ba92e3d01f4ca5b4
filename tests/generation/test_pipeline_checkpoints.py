"""Checkpoints: typed stage outputs to JSON and back, and runs checkpointed by an older
release resuming after an upgrade."""

from __future__ import annotations

import copy

import pytest

from generation.execution import service
from generation.models import GenerationRun, ResearchSource, RunStatus, Stage
from generation.pipeline import checkpoints
from generation.pipeline.types import (
    CheckedPost,
    CitationReport,
    Framing,
    Metadata,
    Outline,
    PartialDraft,
    ResearchResult,
    SectionDraft,
    SectionPlan,
    TopicPlan,
)

pytestmark = pytest.mark.django_db

META = Metadata(("redis", "queues"), "Databases", "An excerpt.", "A description.")
OUTPUTS = {
    Stage.TOPIC: TopicPlan("Redis", "as a job queue"),
    Stage.RESEARCH: ResearchResult(("redis", "redis queues"), kept=5, found=9, rounds=2, cut=1),
    Stage.OUTLINE: Outline("Redis", "angle", (SectionPlan("Lists", ("LPUSH",), (1, 2)),)),
    Stage.SECTIONS: SectionDraft(("Text [1].",), Framing("Intro.", "End."), META, 0.4),
    Stage.CITATIONS: CheckedPost("Body [1].", (2,), CitationReport(claims=3, verified=3)),
    Stage.METADATA: META,
}


@pytest.mark.parametrize("stage", list(OUTPUTS))
def test_each_stage_output_survives_its_checkpoint(stage):
    saved = checkpoints.written({}, stage, OUTPUTS[stage])
    assert checkpoints.read(saved, stage) == OUTPUTS[stage]


def test_a_finished_sections_stage_replaces_its_partial_draft():
    partial = PartialDraft(sections={1: "Second."}, framing=Framing("I.", "C."))
    saved = checkpoints.with_partial({"topic": {"topic": "t", "angle": "a"}}, partial)
    assert checkpoints.read_partial(saved) == partial
    done = checkpoints.written(saved, Stage.SECTIONS, OUTPUTS[Stage.SECTIONS])
    assert set(done) == {"topic", "sections"}


def test_the_json_shapes_older_releases_wrote_still_load():
    old = {
        "topic": {"topic": "Redis", "angle": "as a job queue"},
        "research": {"queries": ["redis"], "kept": 4, "found": 7},  # before rounds and cuts
        "sections": {
            "section:1": "Two.",
            "section:0": "One.",
            "framing": {"introduction": "Intro.", "conclusion": "End."},
            "metadata": {"tags": ["a"], "category": "C", "excerpt": "E", "meta_description": "M"},
        },
        "sections_partial": {"section:0": "One."},
        "citations": {"body": "B [1].", "cited": [3], "claims": 2, "verified": 2, "revised": []},
    }
    assert checkpoints.read(old, Stage.RESEARCH) == ResearchResult(("redis",), kept=4, found=7)
    draft = checkpoints.read(old, Stage.SECTIONS)
    assert draft.sections == ("One.", "Two.") and draft.metadata_seconds == 0
    assert checkpoints.read_partial(old).sections == {0: "One."}
    checked = checkpoints.read(old, Stage.CITATIONS)
    assert (checked.cited, checked.report.held, checked.report.judge) == ((3,), "", None)


def as_older_release_wrote_it(saved: dict) -> dict:
    """The checkpoints as the release before typed stages wrote them."""
    old = copy.deepcopy(saved)
    for piece in (old.get("sections"), old.get("sections_partial")):
        if piece:
            piece.pop("metadata_seconds", None)
    for key in ("repeats", "links_removed", "judge", "held"):
        old.get("citations", {}).pop(key, None)
    return old


def test_a_run_checkpointed_before_the_upgrade_publishes_after_it(standins, author):
    (done,) = service.generate_posts(count=1, topic="LLM optimization", author=author)
    assert done.status == RunStatus.SUCCEEDED, done.errors
    saved = {k: v for k, v in done.checkpoints.items() if k != Stage.METADATA}
    run = GenerationRun.objects.create(
        author=author,
        topic=done.topic,
        status=RunStatus.RETRYING,  # test data: its first attempt failed after citations
        attempts=1,
        checkpoints=as_older_release_wrote_it(saved),
    )
    for source in ResearchSource.objects.filter(run=done):
        source.pk, source.run = None, run
        source.save()
    calls = dict(standins.llm.counts)

    run = service.run_generation(run.pk)

    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert dict(standins.llm.counts) == calls  # nothing written again
    assert set(run.timings) == {"metadata", "publish"}
    assert run.post.excerpt == done.post.excerpt and run.post.body == done.post.body


def test_a_partial_draft_from_before_the_upgrade_is_completed(standins, author):
    standins.llm.inject(kind="section", status=400, times=1)
    (run,) = service.generate_posts(count=1, topic="LLM optimization", author=author)
    assert run.status == RunStatus.FAILED and "sections_partial" in run.checkpoints
    written = standins.llm.counts["section"]
    GenerationRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RETRYING,  # test data: as an automatic retry would leave it
        max_attempts=2,
        checkpoints=as_older_release_wrote_it(run.checkpoints),
    )

    run = service.run_generation(run.pk)

    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert standins.llm.counts["section"] == written + 1  # only the failed one again
    assert standins.llm.counts["metadata"] == 1 and "sections_partial" not in run.checkpoints


def test_the_metadata_draft_is_booked_to_the_metadata_stage(standins, author):
    standins.llm.inject(kind="metadata", delay=0.6)
    (run,) = service.generate_posts(count=1, topic="LLM optimization", author=author)

    assert run.status == RunStatus.SUCCEEDED, run.errors
    assert run.timings["metadata"] >= 0.6  # written alongside the sections, booked here
    usage = run.usage_by_stage
    assert usage["metadata"]["calls"] == 1 and float(usage["metadata"]["cost_usd"]) > 0
    assert sum(row["calls"] for row in usage.values()) == run.llm_calls
    assert sum(row["prompt_tokens"] for row in usage.values()) == run.prompt_tokens
