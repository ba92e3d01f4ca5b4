"""Shared fixtures: a real, empty Redis database, loopback stand-ins for the LLM and the web.

PostgreSQL comes through pytest-django (DATABASE_URL); Redis is database 15 of the local
server (REDIS_URL), flushed before every test and never database 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from django.conf import settings as django_settings
from django.test import override_settings

from standins.hostile import HostileWriter
from standins.llm_server import LLMStandin
from standins.web import WebStandin
from standins.writer import WriterResponder

pytest_plugins = ["tests.standins_llm_fixtures", "tests.standins_web_fixtures"]


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hasher() -> Iterator[None]:
    """Django's advice for test suites: a cheap hasher. PBKDF2 at Django's cost spends
    ~0.6 s per user created, and most tests create one. Processes the tests start (workers,
    `manage.py` commands) keep the real hashers."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(scope="session")
def redis_conn() -> redis.Redis:
    """The test Redis database. Refuses to run against database 0."""
    conn = redis.Redis.from_url(django_settings.REDIS_URL)
    if conn.connection_pool.connection_kwargs.get("db", 0) == 0:
        pytest.exit("Tests refuse to use Redis database 0: set REDIS_URL=redis://…/15", 2)
    return conn


@pytest.fixture(autouse=True)
def _clean_redis(redis_conn: redis.Redis) -> Iterator[None]:
    """Each test starts with the test database (and only it) empty."""
    redis_conn.flushdb()
    yield


@dataclass
class Standins:
    """The running stand-ins, and the environment that points a subprocess at them."""

    llm: LLMStandin
    web: WebStandin

    def env(self) -> dict[str, str]:
        return {
            "OPENAI_BASE_URL": self.llm.base_url,
            "OPENAI_API_KEY": "test-key",
            "GENERATION_MODEL": "standin-writer",
            "GENERATION_FAST_MODEL": "standin-fast",
            "RESEARCH_PROVIDERS": "searxng",
            "SEARXNG_URL": self.web.base_url,
            "RESEARCH_ALLOW_HOSTS": self.web.host_port,
            "RESEARCH_PER_HOST": "8",  # one stand-in host:port serves many "sites"
        }


@pytest.fixture
def standins(request: pytest.FixtureRequest, settings) -> Iterator[Standins]:
    """The writer stand-in LLM and the corpus web, with settings pointed at both.

    Pass LLMStandin keyword arguments through `@pytest.mark.llm_options(...)`; with
    `hostile=[...]` the writer misbehaves as standins/hostile.py describes.
    """
    marker = request.node.get_closest_marker("llm_options")
    options = dict(marker.kwargs) if marker else {}
    hostile = options.pop("hostile", None)
    writer = WriterResponder() if hostile is None else HostileWriter(*hostile)
    with LLMStandin(writer, **options) as llm, WebStandin() as web:
        stand = Standins(llm=llm, web=web)
        for name, value in stand.env().items():
            setattr(settings, name, value)
        from tests.standins_web_fixtures import point_settings_at

        point_settings_at(settings, web)
        yield stand


@pytest.fixture
def pipeline_settings(standins: Standins) -> Standins:
    """Alias that reads well in tests that only need the settings pointed at the stand-ins."""
    return standins


@pytest.fixture
def worker_env(standins: Standins, transactional_db) -> dict[str, str]:
    """Environment for a subprocess (worker, command) that must see the test database."""
    import os

    from django.db import connection

    db = connection.settings_dict
    user = f"{db['USER']}@" if db.get("USER") else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{user}{db['HOST']}{port}/{db['NAME']}",
        "REDIS_URL": django_settings.REDIS_URL,
        **standins.env(),
    }


@pytest.fixture
def author(django_user_model):
    return django_user_model.objects.create_user(
        username="writer", password="unused-password-1", is_staff=True
    )
