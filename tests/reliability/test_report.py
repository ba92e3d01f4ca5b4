"""The suite's own plumbing: its tests are marked, and figures reach the report."""

import pytest


def test_tests_here_are_marked_reliability(request):
    assert request.node.get_closest_marker("reliability") is not None


def test_report_rows_are_kept(reliability_report):
    from tests.reliability import conftest

    reliability_report.row("plumbing", check="row kept", ok=True)
    assert {"check": "row kept", "ok": True} in conftest._TABLES["plumbing"]
    conftest._TABLES.pop("plumbing")


@pytest.mark.parametrize("cells", [{"a": "x|y"}])
def test_markdown_escapes_pipes(cells):
    from tests.reliability.conftest import _markdown

    assert _markdown([cells])[-1] == "| x\\|y |"
