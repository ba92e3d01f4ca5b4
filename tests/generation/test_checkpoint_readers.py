"""The readers of a run's checkpoint JSON (pipeline/checkpoints.py): the one place outside
the stages that knows its shape, used by the run admin, the sync command and retry."""

from __future__ import annotations

from generation.pipeline import checkpoints
from generation.pipeline.types import CheckedPost, CitationReport, ResearchResult, TopicPlan

REMOVED = {"sentence": "Redis is slow.", "reason": "not in its source", "numbers": [2]}


def _written() -> dict:
    """Checkpoints of a run that finished topic, research and citations, written by the
    same codecs the pipeline uses."""
    report = CitationReport(claims=4, verified=3, removed=[REMOVED], held="too few sources")
    done = {}
    for stage, output in (
        ("topic", TopicPlan(topic="Redis", angle="queues")),
        ("research", ResearchResult(queries=("redis",), kept=7, found=9)),
        ("citations", CheckedPost(body="Body [1].", cited=(1,), report=report)),
    ):
        done = checkpoints.written(done, stage, output)
    return done


def test_the_citation_report_is_read_from_the_checkpoint():
    report = checkpoints.citation_report(_written())
    assert (report.claims, report.verified, report.removed) == (4, 3, [REMOVED])
    assert report.held == "too few sources" and report.kept == 3


def test_an_older_citation_checkpoint_reads_with_defaults():
    old = {"citations": {"body": "B", "cited": [], "claims": 2, "verified": 2}}
    report = checkpoints.citation_report(old)
    assert (report.claims, report.figures, report.judge, report.held) == (2, 0, None, "")


def test_no_report_and_no_sources_before_their_stages_finished():
    assert checkpoints.citation_report({}) is None
    assert checkpoints.citation_report(None) is None
    assert checkpoints.sources_kept({"topic": {"topic": "Redis"}}) is None


def test_sources_kept_is_what_research_kept():
    assert checkpoints.sources_kept(_written()) == 7


def test_a_partial_checkpoint_belongs_to_its_stage():
    assert checkpoints.stage_of(checkpoints.PARTIAL) == "sections"
    assert checkpoints.stage_of("research") == "research"


def test_retry_keeps_everything_unless_a_stage_must_be_redone():
    done = {**_written(), checkpoints.PARTIAL: {"section:0": "Half"}}
    assert checkpoints.kept_for_retry(done, None) == done
    assert checkpoints.kept_for_retry(done, "not-a-stage") == done
    assert set(checkpoints.kept_for_retry(done, "sections")) == {"topic", "research"}
    assert set(checkpoints.kept_for_retry(done, "research")) == {"topic"}
