"""The `web_standin` fixture: the loopback stand-in web, with research settings pointed at it.

Use it from a test module (or a conftest) by binding it to a module-level name:

    from tests import standins_web_fixtures

    web_standin = standins_web_fixtures.web_standin

While the test runs, settings use only the "searxng" provider with SEARXNG_URL set to the
stand-in, and RESEARCH_ALLOW_HOSTS lists its host:port, so `providers_from_settings()`
and `http_client_from_settings()` reach it. Pass WebStandin keyword arguments with an
indirect parameter:

    @pytest.mark.parametrize("web_standin", [{"page_delay": 0.05}], indirect=True)
    def test_x(web_standin): ...

`web_standin.requests` (Counter by kind: "search", "page", ...), `.max_in_flight`,
`.add_page(...)` and `.pin_result(...)` work as documented in standins/web.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from standins.web import WebStandin


def research_on(
    web: WebStandin,
    queries: list[str],
    *,
    providers=None,
    timeout: float = 5,
    max_bytes: int = 100_000,
    **options,
):
    """research() over the stand-in through a guarded client that may reach it."""
    from generation.research import make_http_client, research
    from generation.research.providers import SearxngProvider

    async def go():
        async with make_http_client(
            allow_hosts=[web.host_port], user_agent="test", timeout=timeout, max_bytes=max_bytes
        ) as http:
            return await research(
                queries,
                http=http,
                providers=providers or [SearxngProvider(web.base_url)],
                **options,
            )

    return asyncio.run(go())


# The stand-in serves what would be many sites from one host:port: the per-host limit
# (RESEARCH_PER_HOST, default 2) is raised for it, except where a test is about that limit.
STANDIN_PER_HOST = 8


def point_settings_at(settings, web: WebStandin) -> None:
    """Research settings that send every search and fetch to the stand-in."""
    settings.RESEARCH_PROVIDERS = ["searxng"]
    settings.SEARXNG_URL = web.base_url
    settings.RESEARCH_ALLOW_HOSTS = [web.host_port]
    settings.RESEARCH_PER_HOST = STANDIN_PER_HOST


@pytest.fixture
def web_standin(request: pytest.FixtureRequest, settings) -> Iterator[WebStandin]:
    options = getattr(request, "param", None) or {}
    with WebStandin(**options) as web:
        point_settings_at(settings, web)
        yield web
