"""Which tests pytest-xdist keeps together on one worker, one after another.

pytest-xdist's own `xdist_group` marker does nothing with the pytest in the lock (xdist
3.8 renames `item._nodeid`, which pytest 9 no longer reads), so the groups are named here by
path, and the controller's scheduler (xdist's loadgroup) reads them from the node ids:

- "browser": the files whose tests drive Chromium, so one browser serves them all
  (tests/browsers.py closes it after the last of a row of browser tests);
- "shared-worker": the files whose tests use `shared_worker`, so one worker process serves
  them all (tests/conftest.py stops it before any other test);
- "faults": the fault scenarios, each running its own workers and timing its faults against
  them, so no two run at once.

A test outside these files that uses `page`, `chromium` or `shared_worker` still works: it
gets its own browser or worker for its row of tests. Loaded with `-p tests.xdist_groups`.
"""

from __future__ import annotations

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadGroupScheduling

GROUPS: dict[str, tuple[str, ...]] = {
    "browser": (
        "tests/browser/",
        "tests/reliability/test_clients.py::",
        "tests/reliability/test_csp.py::",
        "tests/reliability/test_xss_browser.py::",
    ),
    "shared-worker": (
        "tests/generation/test_jobs.py::",
        "tests/generation/test_bg_command.py::",
        "tests/generation/test_reaper_orphans.py::",
    ),
    "faults": ("tests/reliability/test_faults.py::",),
}


def group_of(nodeid: str) -> str | None:
    for group, prefixes in GROUPS.items():
        if nodeid.startswith(prefixes):
            return group
    return None


class PathGroupScheduling(LoadGroupScheduling):
    """xdist's loadgroup, with the groups above: a group is one unit of work (the largest
    go out first); every other test is a unit of its own."""

    def _split_scope(self, nodeid: str) -> str:
        group = group_of(nodeid)
        return f"@{group}" if group else super()._split_scope(nodeid)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> LoadGroupScheduling | None:
    if config.getvalue("dist") == "loadgroup":
        return PathGroupScheduling(config, log)
    return None
