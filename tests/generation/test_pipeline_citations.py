"""The citation checker keeps supported citations and removes the rest."""

from __future__ import annotations

from generation.pipeline.citations import assemble, check_citations, renumber

SOURCES = {
    1: (
        "Redis keeps its whole data set in memory. Persistence is optional and comes in two "
        "forms, snapshots and an append-only file. Replication copies data to replicas."
    ),
    2: (
        "PostgreSQL uses multiversion concurrency control. Old row versions are removed by "
        "VACUUM, which also updates the visibility map used by index-only scans."
    ),
}


def check(text: str) -> tuple[str, dict]:
    cleaned, report = check_citations(text, SOURCES, threshold=0.5)
    return cleaned, report.as_dict()


def test_supported_citation_stays():
    text, report = check("Redis keeps its whole data set in memory [1].")
    assert text == "Redis keeps its whole data set in memory [1]."
    assert report == {"total": 1, "verified": 1, "removed": []}


def test_out_of_range_citation_is_removed():
    text, report = check("Redis keeps its whole data set in memory [7].")
    assert "[7]" not in text
    assert report["verified"] == 0
    assert report["removed"][0]["number"] == 7
    assert report["removed"][0]["reason"] == "no such source"


def test_fabricated_citation_to_the_wrong_source_is_removed():
    # Source 2 exists but says nothing about Redis memory.
    text, report = check("Redis keeps its whole data set in memory [2].")
    assert "[2]" not in text
    assert report["removed"][0]["reason"] == "not supported by the source"


def test_sentence_unrelated_to_its_source_is_removed_but_others_stay():
    text, report = check(
        "Bananas are rich in potassium and grow in tropical climates [1]. "
        "VACUUM removes old row versions in PostgreSQL [2]."
    )
    assert "potassium and grow in tropical climates." in text
    assert "tropical climates [1]" not in text
    assert "VACUUM removes old row versions in PostgreSQL [2]." in text
    assert report["total"] == 2 and report["verified"] == 1
    assert len(report["removed"]) == 1 and report["removed"][0]["number"] == 1


def test_grouped_citations_are_checked_one_by_one():
    text, report = check("Old row versions are removed by VACUUM [1, 2].")
    assert text == "Old row versions are removed by VACUUM [2]."
    assert report["total"] == 2 and report["verified"] == 1


def test_citation_after_the_full_stop_belongs_to_its_sentence():
    text, report = check("Replication copies data to replicas. [1] Next sentence here.")
    assert text.startswith("Replication copies data to replicas [1].")
    assert report["verified"] == 1


def test_headings_are_left_alone():
    text, report = check("## Part [1]\n\nRedis keeps its whole data set in memory [1].")
    assert text.startswith("## Part [1]")
    assert report["total"] == 1


def test_renumber_orders_sources_by_first_citation():
    text, order = renumber("B claim [5]. A claim [2][5]. C claim [2, 9].")
    assert order == [5, 2, 9]
    assert text == "B claim [1]. A claim [2][1]. C claim [2][3]."


def test_renumber_leaves_markdown_links_alone():
    text, order = renumber("See [1](https://example.com) and a claim [4].")
    assert order == [4]
    assert text == "See [1](https://example.com) and a claim [1]."


def test_assemble_puts_introduction_sections_and_conclusion_in_order():
    outline = {"sections": [{"heading": "One"}, {"heading": "Two"}]}
    body = assemble(outline, {"introduction": "Intro.", "conclusion": "End."}, ["S1.", "S2."])
    assert body == "Intro.\n\n## One\n\nS1.\n\n## Two\n\nS2.\n\n## Conclusion\n\nEnd."
