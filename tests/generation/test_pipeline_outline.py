"""Outline fitting and topic helpers: thin sections are merged, titles kept distinct."""

from __future__ import annotations

import pytest

from generation.exceptions import NotEnoughSources
from generation.pipeline.outline import fit_sections
from generation.pipeline.types import SectionPlan
from generation.runs.titles import is_near_duplicate, pick_configured_topic


def section(heading: str, sources: list[int]) -> SectionPlan:
    return SectionPlan(heading, (f"{heading} point",), tuple(sources))


def test_sections_with_enough_sources_are_kept_as_they_are():
    fitted = fit_sections(
        [section("A", [1, 2]), section("B", [2, 3])], valid={1, 2, 3}, min_sources=2
    )
    assert [s.heading for s in fitted] == ["A", "B"]


def test_thin_section_is_merged_into_the_previous_one():
    fitted = fit_sections(
        [section("A", [1, 2]), section("B", [3]), section("C", [2, 3])],
        valid={1, 2, 3},
        min_sources=2,
    )
    assert [s.heading for s in fitted] == ["A", "C"]
    assert fitted[0].sources == (1, 2, 3)
    assert "B point" in fitted[0].key_points


def test_thin_first_section_is_merged_into_the_next_one():
    fitted = fit_sections([section("A", [1]), section("B", [2, 3])], valid={1, 2, 3}, min_sources=2)
    assert [s.heading for s in fitted] == ["B"]
    assert fitted[0].sources == (1, 2, 3)


def test_unknown_source_numbers_do_not_count():
    fitted = fit_sections(
        [section("A", [1, 2, 99]), section("B", [7, 8])], valid={1, 2}, min_sources=2
    )
    assert fitted == [SectionPlan("A", ("A point", "B point"), (1, 2))]


def test_no_section_with_enough_sources_refuses_to_write():
    with pytest.raises(NotEnoughSources):
        fit_sections([section("A", [1]), section("B", [1])], valid={1}, min_sources=2)


def test_near_duplicate_titles_are_recognised():
    assert is_near_duplicate(
        "LLM Optimization: A Practical Guide", ["llm optimization - a practical guide!"]
    )
    assert not is_near_duplicate(
        "LLM Optimization: The Trade-offs", ["LLM Optimization: A Practical Guide"]
    )


def test_configured_topics_skip_covered_ones_and_follow_the_batch_index():
    topics = ["Redis", "PostgreSQL", "Kafka"]
    assert pick_configured_topic(topics, ["redis"], 0) == "PostgreSQL"
    assert pick_configured_topic(topics, ["redis"], 1) == "Kafka"
    assert pick_configured_topic(topics, ["redis"], 2) is None
