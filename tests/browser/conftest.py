"""Playwright driving Debian's Chromium (never a downloaded browser), headless."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture
def _async_unsafe_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    # Playwright's sync API keeps an event loop in this thread; Django's ORM refuses to run
    # next to one unless told it is safe (it is: the loop only drives the browser).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def page(_async_unsafe_allowed) -> Iterator:
    """A fresh browser page; the browser closes after the test."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1600, "height": 900})
            context.set_default_timeout(15_000)
            yield context.new_page()
        finally:
            browser.close()
            # The ORM opened its own connection under Playwright's loop: close it, or the
            # test database cannot be dropped at the end of the session.
            connections.close_all()
