"""The browser tests: `page` and `chromium` come from tests/browsers.py (one Chromium for
a run of browser tests, a fresh context per test)."""
