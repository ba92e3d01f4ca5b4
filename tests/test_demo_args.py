"""`make demo ARGS=…` keeps the demo's defaults for every option not given."""

from __future__ import annotations

import pytest

from scripts.demo import command_args


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ["--count", "1", "--topic", "LLM optimization", "--publish"]),
        (["--count", "2"], ["--count", "2", "--topic", "LLM optimization", "--publish"]),
        (["--topic=Redis"], ["--topic=Redis", "--count", "1", "--publish"]),
        (["--draft"], ["--count", "1", "--topic", "LLM optimization"]),
        (
            ["--publish", "--no-tags"],
            ["--publish", "--no-tags", "--count", "1", "--topic", "LLM optimization"],
        ),
        (["-v"], ["--verbosity", "2", "--count", "1", "--topic", "LLM optimization", "--publish"]),
    ],
)
def test_demo_keeps_defaults_unless_overridden(argv, expected):
    assert command_args(argv) == expected
