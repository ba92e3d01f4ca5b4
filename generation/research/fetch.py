"""Fetching one page through the guarded client: redirects re-checked, size, type and
time bounded. Every way a fetch can go wrong becomes FetchRefused or FetchFailed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from generation.exceptions import FetchRefused
from generation.research.base import FetchFailed
from generation.research.decode import read_body, stalling

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = frozenset({"text/plain", "text/markdown"})
ALLOWED_TYPES = HTML_TYPES | TEXT_TYPES
MAX_REDIRECTS = 5
DEFAULT_MAX_BYTES = 2_000_000
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})


@dataclass(frozen=True)
class FetchedPage:
    """A fetched body and what is needed to read it."""

    url: str  # after redirects
    content_type: str
    body: bytes
    encoding: str | None = None
    status: int = 200  # 304: the cached copy named in `validators` is still good (no body)
    hops: tuple[str, ...] = ()  # every URL asked on the way, the first one included
    etag: str = ""
    last_modified: str = ""
    cache_control: str = ""
    redirects: tuple[int, ...] = ()  # the status of each redirect followed, in order

    @property
    def moved_to(self) -> str:
        """Where the page now lives when its address answered with a permanent redirect
        (301/308), else ""."""
        if self.redirects and self.redirects[0] in PERMANENT_REDIRECTS:
            return self.url
        return ""


async def fetch_page(
    http: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float | None = None,
    max_redirects: int = MAX_REDIRECTS,
    stall_s: float | None = None,
    validators: dict[str, str] | None = None,
) -> FetchedPage:
    """GET a page, following at most `max_redirects` redirects, each through the guard.

    `timeout` bounds the whole fetch, redirects included (default: the client's read timeout);
    `stall_s` cuts it sooner when no byte arrives for that long. With `validators`
    (If-None-Match / If-Modified-Since) a 304 comes back as a page with status 304, no body.
    """
    deadline = timeout or http.timeout.read or 30.0
    fetch = _Fetch(http, max_bytes, max_redirects, stall_s, validators or {})
    try:
        async with asyncio.timeout(deadline):
            return await fetch.follow(url)
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise FetchFailed("timeout", transient=True) from exc
    except httpx.InvalidURL as exc:
        raise FetchRefused(f"refused: invalid URL ({exc})") from exc
    except httpx.UnsupportedProtocol as exc:
        raise FetchRefused("refused: scheme is not allowed") from exc
    except httpx.ConnectError as exc:
        raise FetchFailed(
            "connection failed (ConnectError)", unreachable=True, transient=True
        ) from exc
    except httpx.HTTPError as exc:
        raise FetchFailed(f"connection failed ({type(exc).__name__})", transient=True) from exc


class _Fetch:
    """One fetch's settings, for the hops it follows."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        max_bytes: int,
        max_redirects: int,
        stall_s: float | None,
        validators: dict[str, str],
    ) -> None:
        self.http = http
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.stall_s = stall_s
        self.validators = validators

    async def follow(self, url: str) -> FetchedPage:
        current, hops, redirects = httpx.URL(url), [], []
        for _hop in range(self.max_redirects + 1):
            if current.scheme not in ("http", "https"):
                raise FetchRefused(f"refused: scheme {current.scheme!r} is not allowed")
            hops.append(str(current))
            request = self.http.build_request("GET", current, headers=self.validators)
            response = await stalling(self.http.send(request, stream=True), self.stall_s)
            try:
                location = response.headers.get("location")
                if response.status_code in _REDIRECTS and location:
                    current = current.join(location)
                    redirects.append(response.status_code)
                    continue
                return await self.read(response, current, tuple(hops), tuple(redirects))
            finally:
                await response.aclose()
        raise FetchFailed(f"too many redirects (more than {self.max_redirects})")

    async def read(
        self,
        response: httpx.Response,
        url: httpx.URL,
        hops: tuple[str, ...],
        redirects: tuple[int, ...] = (),
    ) -> FetchedPage:
        headers = response.headers
        meta = {
            "hops": hops,
            "redirects": redirects,
            "etag": headers.get("etag", ""),
            "last_modified": headers.get("last-modified", ""),
            "cache_control": headers.get("cache-control", "").lower(),
        }
        if response.status_code == 304 and self.validators:
            return FetchedPage(str(url), "", b"", None, status=304, **meta)
        if response.status_code >= 300:
            raise FetchFailed(f"HTTP {response.status_code}", status=response.status_code)
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in ALLOWED_TYPES:
            raise FetchRefused(f"content type {content_type or 'missing'}")
        body = await read_body(response, max_bytes=self.max_bytes, stall_s=self.stall_s)
        return FetchedPage(str(url), content_type, body, response.charset_encoding, **meta)
