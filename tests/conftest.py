"""Shared fixtures: a real, empty Redis database, loopback stand-ins for the LLM and the web.

PostgreSQL comes through pytest-django (DATABASE_URL); Redis is database 15 of the local
server (REDIS_URL), flushed before every test and never database 0. Split over pytest-xdist
workers, each has its own PostgreSQL database (test_<name>_gwN) and its own Redis database
(tests/xdist_redis.py), flushes only that one, and hands it to the processes it starts.
"""

from __future__ import annotations

import signal
import subprocess
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
from tests.workers import SharedWorker, empty_but_workers, wait_for

pytest_plugins = [
    "tests.standins_llm_fixtures",
    "tests.standins_web_fixtures",
    "tests.browsers",
]


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
    """Each test starts with the test database (and only it) empty; next to the shared
    worker, empty but for that worker's own keys."""
    if SHARED_WORKER.running:
        empty_but_workers(redis_conn)
    else:
        redis_conn.flushdb()
    yield


@pytest.fixture(autouse=True)
def _heartbeat_outside_the_test_transaction(request: pytest.FixtureRequest, settings) -> None:
    """A test inside one rolled-back transaction (`django_db` without transaction=True) runs
    the pipeline on a run row nobody else can see: the heartbeat thread, on its own
    connection, finds no row to renew and stops the run as "lost its lease" once
    GENERATION_HEARTBEAT_SECONDS pass, which a loaded machine reaches. There the heartbeat
    waits longer than any test; transactional tests and worker processes keep the real one."""
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or bool(
        marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0]))
    )
    if marker and not transactional:
        settings.GENERATION_HEARTBEAT_SECONDS = 3600.0


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
    if "shared_worker" in request.fixturenames:
        if options:
            pytest.fail("A test with llm_options starts its own worker, not shared_worker.")
        stand = request.getfixturevalue("_shared_standins")
        stand.llm.reset()
        stand.llm.clear_faults()
        stand.web.reset_counts()
        _point_settings(settings, stand)
        yield stand
        return
    hostile = options.pop("hostile", None)
    writer = WriterResponder() if hostile is None else HostileWriter(*hostile)
    with LLMStandin(writer, **options) as llm, WebStandin() as web:
        stand = Standins(llm=llm, web=web)
        _point_settings(settings, stand)
        yield stand


def _point_settings(settings, stand: Standins) -> None:
    for name, value in stand.env().items():
        setattr(settings, name, value)
    from tests.standins_web_fixtures import point_settings_at

    point_settings_at(settings, stand.web)


@pytest.fixture
def pipeline_settings(standins: Standins) -> Standins:
    """Alias that reads well in tests that only need the settings pointed at the stand-ins."""
    return standins


@pytest.fixture
def worker_env(standins: Standins, transactional_db) -> dict[str, str]:
    """Environment for a subprocess (worker, command) that must see the test database."""
    return _subprocess_env(standins)


def _subprocess_env(standins: Standins) -> dict[str, str]:
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


# --- A worker shared by the tests that only need "a worker" ----------------------------------

SHARED_WORKER = SharedWorker()


@pytest.fixture(scope="session")
def _shared_standins() -> Iterator[Standins]:
    """The writer stand-in and the corpus web that the shared worker is pointed at."""
    with LLMStandin(WriterResponder()) as llm, WebStandin() as web:
        yield Standins(llm=llm, web=web)


@pytest.fixture(scope="session")
def _shared_worker_session(django_db_setup) -> Iterator[SharedWorker]:
    yield SHARED_WORKER
    SHARED_WORKER.stop()  # before the test database is dropped


@pytest.fixture
def shared_worker(
    _shared_worker_session: SharedWorker, standins: Standins, transactional_db, redis_conn
) -> Iterator[subprocess.Popen]:
    """A running worker (tests/workers.py FAST settings, with its scheduler) on the shared
    stand-ins, for a test that only needs "a worker". Tests that kill, stop or restart a
    worker, or need other settings or llm_options, start their own. After the test no job
    of it is still running, so the next test starts with an idle worker."""
    process = _shared_worker_session.start(_subprocess_env(standins))
    yield process
    wait_for(lambda: not _busy(redis_conn), timeout=60)


def _busy(connection: redis.Redis) -> bool:
    from rq import Queue

    queue = Queue("content", connection=connection)
    return queue.started_job_registry.count > 0


def _needs_shared_worker(item: pytest.Item | None) -> bool:
    return item is not None and "shared_worker" in getattr(item, "fixturenames", ())


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stop the shared worker before a test that did not ask for it. The files that use it
    are one xdist group (tests/xdist_groups.py), so their tests follow one another."""
    if _needs_shared_worker(item) and not _needs_shared_worker(nextitem):
        SHARED_WORKER.stop()


@pytest.fixture
def author(django_user_model):
    return django_user_model.objects.create_user(
        username="writer", password="unused-password-1", is_staff=True
    )


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C reaches the processes the tests start. A suite started in the background of
    a non-interactive shell (`make test &`, nohup) inherits SIGINT ignored, and an ignored
    signal stays ignored across exec: the tests that press Ctrl-C on a command would then
    wait for nothing. Python's own handler is put back; the processes started get the
    default again."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
