"""Each pytest-xdist worker gets its own Redis database, derived from REDIS_URL."""

from __future__ import annotations

import pytest

from tests.xdist_redis import redis_url_for_worker


@pytest.mark.parametrize(
    ("worker", "expected"),
    [("gw0", "redis://127.0.0.1:6379/15"), ("gw1", "redis://127.0.0.1:6379/14"),
     ("gw2", "redis://127.0.0.1:6379/13")],
)  # fmt: skip
def test_worker_n_uses_the_base_database_minus_n(worker, expected):
    assert redis_url_for_worker("redis://127.0.0.1:6379/15", worker, 3) == expected


def test_the_password_and_host_are_kept():
    url = redis_url_for_worker("redis://:pw@10.0.0.5:6380/12", "gw2", 4)
    assert url == "redis://:pw@10.0.0.5:6380/10"


@pytest.mark.parametrize(
    ("base", "workers"),
    [("redis://127.0.0.1:6379/2", 3), ("redis://127.0.0.1:6379/0", 1),
     ("redis://127.0.0.1:6379", 2), ("redis://127.0.0.1:6379/16", 1)],
)  # fmt: skip
def test_workers_that_would_reach_database_0_or_leave_1_to_15_are_refused(base, workers):
    with pytest.raises(ValueError, match=r"within 1\.\.15"):
        redis_url_for_worker(base, "gw0", workers)


def test_a_url_without_a_database_number_is_refused():
    with pytest.raises(ValueError, match="must end in a database number"):
        redis_url_for_worker("redis://127.0.0.1:6379/cache", "gw0", 1)
