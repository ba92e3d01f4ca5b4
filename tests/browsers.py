"""Playwright driving Debian's Chromium (never a downloaded browser), headless: one browser
for a whole run of browser tests, a fresh context (cookies, storage, theme) for each test.

Fixtures: `chromium` (the launched browser; a test opens its own contexts on it) and `page`
(a page in a fresh 1600x900 context, closed after the test).

Playwright's sync API keeps an event loop running in this thread while it is started, and
with it neither `asyncio.run` (the research stage) nor Django's ORM (which refuses next to a
running loop unless DJANGO_ALLOW_ASYNC_UNSAFE) work. So the browser stays up only while
browser tests follow one another: it is closed after a test whose next test uses no browser.
The browser test files are one xdist group (tests/xdist_groups.py), so a split run sends
them all to one worker, one after another, and Chromium starts once per run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class SharedChromium:
    """One Playwright and one Chromium, started on first use and closed on demand."""

    def __init__(self) -> None:
        self._playwright: Any = None
        self.browser: Any = None
        self._async_unsafe: str | None = None

    def open(self) -> Any:
        if self.browser is not None:
            return self.browser
        from playwright.sync_api import sync_playwright

        if not CHROMIUM.exists():
            pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver")
        # The ORM next to Playwright's loop is safe (the loop only drives the browser), but
        # Django refuses unless told.
        self._async_unsafe = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        self._playwright = sync_playwright().start()
        self.browser = self._playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        return self.browser

    def close(self) -> None:
        if self._playwright is None:
            return
        try:
            if self.browser is not None:
                self.browser.close()
        finally:
            self._playwright.stop()
            self._playwright = self.browser = None
            # The ORM opened its own connection under Playwright's loop: close it, or the
            # test database cannot be dropped at the end of the session.
            connections.close_all()
            if self._async_unsafe is None:
                os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            else:
                os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = self._async_unsafe


_SHARED = SharedChromium()


@pytest.fixture(scope="session")
def _shared_chromium() -> Iterator[SharedChromium]:
    yield _SHARED
    _SHARED.close()


@pytest.fixture
def chromium(_shared_chromium: SharedChromium) -> Any:
    """The launched browser; each test opens its own contexts (themes, cookies) on it."""
    return _shared_chromium.open()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A page in a fresh browser context, closed after the test."""
    context = chromium.new_context(viewport={"width": 1600, "height": 900})
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def _uses_browser(item: pytest.Item | None) -> bool:
    return item is not None and "chromium" in getattr(item, "fixturenames", ())


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Close the browser once the browser tests that follow one another are done."""
    if _uses_browser(item) and not _uses_browser(nextitem):
        _SHARED.close()
