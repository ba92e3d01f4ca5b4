"""Brave's web search API (needs BRAVE_API_KEY)."""

from __future__ import annotations

import httpx

from generation.research.base import SearchHit
from generation.research.providers._http import api_json, as_list, web_hits

DEFAULT_API = "https://api.search.brave.com"
MAX_COUNT = 20  # the API's own limit per request


class BraveProvider:
    name = "brave"

    def __init__(self, api_key: str, api_url: str = DEFAULT_API) -> None:
        self.api_key = api_key
        self.api_url = api_url.rstrip("/")

    def __repr__(self) -> str:
        return f"BraveProvider(api_url={self.api_url!r})"  # never the key

    async def search(
        self, query: str, *, http: httpx.AsyncClient, limit: int, page: int = 1
    ) -> list[SearchHit]:
        data = await api_json(
            http,
            self.name,
            f"{self.api_url}/res/v1/web/search",
            params={
                "q": query,
                "count": min(limit, MAX_COUNT),
                **({"offset": page - 1} if page > 1 else {}),  # offset counts pages
            },
            headers={"X-Subscription-Token": self.api_key, "Accept": "application/json"},
        )
        web = data.get("web") if isinstance(data, dict) else None
        items = as_list(web.get("results") if isinstance(web, dict) else None)
        return web_hits(items, self.name, snippet="description", published=("page_age", "age"))
