"""Shared fixtures: a real, empty Redis database for the session, PostgreSQL via pytest-django."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings


@pytest.fixture(scope="session")
def redis_conn() -> redis.Redis:
    """The test Redis database. Refuses to run against database 0 or a non-empty one."""
    conn = redis.Redis.from_url(settings.REDIS_URL)
    db = conn.connection_pool.connection_kwargs.get("db", 0)
    if db == 0:
        pytest.exit("Tests refuse to use Redis database 0: set REDIS_URL=redis://…/15", 2)
    conn.flushdb()
    return conn


@pytest.fixture(autouse=True)
def _clean_redis(redis_conn: redis.Redis):
    """Each test starts with the test database (and only it) empty."""
    redis_conn.flushdb()
    yield
