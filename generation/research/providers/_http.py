"""The one way providers call their APIs: through the guarded client, errors as ProviderError."""

from __future__ import annotations

import asyncio
import json
import re
from html import unescape
from typing import Any

import httpx

from generation.exceptions import FetchRefused, ProviderError
from generation.research.base import FetchFailed, SearchHit
from generation.research.decode import read_body

MAX_API_BYTES = 5_000_000
DEFAULT_DEADLINE = 30.0
_TAG = re.compile(r"<[^>]+>")


async def api_call(
    http: httpx.AsyncClient,
    provider: str,
    url: str,
    *,
    method: str = "GET",
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    json_body: dict[str, Any] | None = None,
) -> bytes:
    """The body of a successful API response; anything else raises ProviderError.

    The whole call (connect, headers, body) has one deadline, the client's read timeout:
    a server trickling a byte a second never trips a per-read timeout, but it trips this.
    """
    deadline = http.timeout.read or DEFAULT_DEADLINE
    try:
        async with asyncio.timeout(deadline):
            request = http.build_request(
                method, url, params=params, headers=headers, json=json_body
            )
            return await _send(http, request, provider)
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise ProviderError(f"{provider}: no complete answer within {deadline:g}s") from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise ProviderError(f"{provider}: request failed ({type(exc).__name__})") from exc
    except (FetchRefused, FetchFailed) as exc:
        raise ProviderError(f"{provider}: {exc}", permanent=exc.permanent) from exc


async def _send(http: httpx.AsyncClient, request: httpx.Request, provider: str) -> bytes:
    response = await http.send(request, stream=True)
    try:
        if response.status_code >= 300:
            permanent = response.status_code in (400, 401, 403, 404)
            raise ProviderError(f"{provider}: HTTP {response.status_code}", permanent=permanent)
        return await read_body(response, max_bytes=MAX_API_BYTES)
    finally:
        await response.aclose()


async def api_json(http: httpx.AsyncClient, provider: str, url: str, **kwargs: Any) -> Any:
    """The parsed JSON body of an API call."""
    body = await api_call(http, provider, url, **kwargs)
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ProviderError(f"{provider}: response is not valid JSON") from exc


def as_list(value: Any) -> list[dict[str, Any]]:
    """The dict items of a JSON list; anything else (missing, wrong shape) is empty."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def as_text(value: Any) -> str:
    """A JSON value as plain one-line text, HTML highlight tags removed."""
    if not isinstance(value, str | int | float):
        return ""
    return " ".join(unescape(_TAG.sub("", str(value))).split())


def web_hits(
    items: list, provider: str, *, snippet: str, published: tuple[str, ...]
) -> list[SearchHit]:
    """Search hits from a web-search API's list of results (url, title and the named
    snippet and date fields); results without a URL are skipped. Every result is kept,
    however many were asked for: an unusable one is then replaced from the same answer."""
    hits = [
        SearchHit(
            url=as_text(item.get("url")),
            title=as_text(item.get("title")),
            snippet=as_text(item.get(snippet)),
            provider=provider,
            published=as_text(next((item[key] for key in published if item.get(key)), "")),
        )
        for item in items
    ]
    return [hit for hit in hits if hit.url]
