"""Fetching one page through the guarded client: redirects re-checked, size, type and
time bounded. Every way a fetch can go wrong becomes FetchRefused or FetchFailed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from generation.exceptions import FetchRefused
from generation.research.base import FetchFailed
from generation.research.decode import read_body

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = frozenset({"text/plain", "text/markdown"})
ALLOWED_TYPES = HTML_TYPES | TEXT_TYPES
MAX_REDIRECTS = 5
DEFAULT_MAX_BYTES = 2_000_000
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class FetchedPage:
    """A fetched body and what is needed to read it."""

    url: str  # after redirects
    content_type: str
    body: bytes
    encoding: str | None = None


async def fetch_page(
    http: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float | None = None,
    max_redirects: int = MAX_REDIRECTS,
) -> FetchedPage:
    """GET a page, following at most `max_redirects` redirects, each through the guard.

    `timeout` bounds the whole fetch, redirects included (default: the client's read timeout).
    """
    deadline = timeout or http.timeout.read or 30.0
    try:
        async with asyncio.timeout(deadline):
            return await _follow(http, url, max_bytes=max_bytes, max_redirects=max_redirects)
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise FetchFailed("timeout") from exc
    except httpx.InvalidURL as exc:
        raise FetchRefused(f"refused: invalid URL ({exc})") from exc
    except httpx.UnsupportedProtocol as exc:
        raise FetchRefused("refused: scheme is not allowed") from exc
    except httpx.HTTPError as exc:
        raise FetchFailed(f"connection failed ({type(exc).__name__})") from exc


async def _follow(
    http: httpx.AsyncClient, url: str, *, max_bytes: int, max_redirects: int
) -> FetchedPage:
    current = httpx.URL(url)
    for _hop in range(max_redirects + 1):
        if current.scheme not in ("http", "https"):
            raise FetchRefused(f"refused: scheme {current.scheme!r} is not allowed")
        async with http.stream("GET", current) as response:
            location = response.headers.get("location")
            if response.status_code in _REDIRECTS and location:
                current = current.join(location)
                continue
            return await _read(response, current, max_bytes)
    raise FetchFailed(f"too many redirects (more than {max_redirects})")


async def _read(response: httpx.Response, url: httpx.URL, max_bytes: int) -> FetchedPage:
    if response.status_code >= 300:
        raise FetchFailed(f"HTTP {response.status_code}")
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ALLOWED_TYPES:
        raise FetchRefused(f"content type {content_type or 'missing'}")
    body = await read_body(response, max_bytes=max_bytes)
    return FetchedPage(str(url), content_type, body, response.charset_encoding)
