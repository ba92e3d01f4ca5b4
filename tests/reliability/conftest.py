"""The reliability suite (tests/reliability): fault injection and hostile input.

Every test here is marked `reliability`, so `make test` leaves it out and `make reliability`
(run by .ci/run) runs it. Tests hand their figures to the `reliability_report` fixture; the
tables are printed at the end of the run and written to LOG_DIR/reliability.json, and
RELIABILITY.md copies them. Under pytest-xdist each worker hands its rows to the controller
when it finishes, and the controller prints and writes them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

_TABLES: dict[str, list[dict]] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.reliability)


class ReliabilityReport:
    """`row(table, **figures)` adds one line to a named table of the run's report."""

    def row(self, table: str, **figures) -> None:
        _TABLES.setdefault(table, []).append(figures)


@pytest.fixture(scope="session")
def reliability_report() -> ReliabilityReport:
    return ReliabilityReport()


def _markdown(rows: list[dict]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = (str(row.get(column, "")).replace("|", "\\|") for column in columns)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


TABLES_KEY = "reliability_tables"


def pytest_sessionfinish(session):
    """In an xdist worker: hand this worker's rows to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[TABLES_KEY] = json.dumps(_TABLES, default=str)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """In the xdist controller: gather the rows of a worker that finished."""
    tables = json.loads(getattr(node, "workeroutput", {}).get(TABLES_KEY, "{}"))
    for table, rows in tables.items():
        _TABLES.setdefault(table, []).extend(rows)


def pytest_terminal_summary(terminalreporter):
    if not _TABLES:
        return
    terminalreporter.section("reliability figures")
    for table, rows in _TABLES.items():
        terminalreporter.write_line(f"\n### {table}\n")
        for line in _markdown(rows):
            terminalreporter.write_line(line)
    log_dir = Path(os.environ.get("LOG_DIR", "logs"))
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "reliability.json").write_text(json.dumps(_TABLES, indent=2, default=str))
