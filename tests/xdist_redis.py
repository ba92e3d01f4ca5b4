"""One Redis database per pytest-xdist worker, derived from REDIS_URL before Django loads.

REDIS_URL names the base database (15 in `make test` and .ci/run). xdist worker `gwN` uses
database base - N: with base 15 and four workers, 15, 14, 13 and 12. A run that is not split
(no `-n`) uses the base itself. Each worker flushes only its own database (tests/conftest.py),
and the worker processes a test starts get the same REDIS_URL (`worker_env`).

The run refuses to start when a worker would land on database 0 (the site's) or on a
database that does not exist: lower the number of workers or raise the base.

Loaded with `-p tests.xdist_redis` (pyproject addopts): a plugin, not a conftest, because the
environment must be set before pytest-django imports the settings, which read REDIS_URL
once (django-rq and the cache copy it).
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import pytest

REDIS_DATABASES = 16  # redis-server's default `databases`


def worker_number(worker_id: str) -> int:
    """0 for `gw0`, 3 for `gw3`; ValueError for anything else."""
    if not worker_id.startswith("gw") or not worker_id[2:].isdigit():
        raise ValueError(f"not an xdist worker id: {worker_id!r}")
    return int(worker_id[2:])


def redis_url_for_worker(base_url: str, worker_id: str, worker_count: int) -> str:
    """REDIS_URL for xdist worker `worker_id` of `worker_count`: database base - N.

    ValueError, in one line, when the workers' databases would reach 0 or leave 1..15.
    """
    parts = urlsplit(base_url)
    path = parts.path.strip("/") or "0"
    if not path.isdigit():
        raise ValueError(f"REDIS_URL {base_url!r} must end in a database number, e.g. /15")
    base = int(path)
    lowest = base - (worker_count - 1)
    if base >= REDIS_DATABASES or lowest < 1:
        raise ValueError(
            f"{worker_count} xdist workers from REDIS_URL database {base} need databases "
            f"{lowest}..{base}; they must lie within 1..{REDIS_DATABASES - 1} (never 0): "
            f"use fewer workers (-n) or a higher base database."
        )
    number = worker_number(worker_id)
    return urlunsplit(parts._replace(path=f"/{base - number}"))


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """In an xdist worker, point REDIS_URL at its own database. Runs after pytest-env has
    set the default REDIS_URL (in the controller, inherited here) and before pytest-django
    loads the settings."""
    worker_id = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker_id:
        return
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    base_url = os.environ.get("REDIS_URL", "")
    try:
        os.environ["REDIS_URL"] = redis_url_for_worker(base_url, worker_id, count)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_configure(config: pytest.Config) -> None:
    """In the controller of a split run, refuse before any worker starts."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    workers = len(config.getoption("tx", None) or [])
    if workers:
        try:
            redis_url_for_worker(os.environ.get("REDIS_URL", ""), "gw0", workers)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
