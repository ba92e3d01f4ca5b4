"""A SearXNG instance's JSON API (its settings must enable the json format)."""

from __future__ import annotations

import httpx

from generation.research.base import SearchHit
from generation.research.providers._http import api_json, as_list, web_hits


class SearxngProvider:
    name = "searxng"

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    async def search(
        self, query: str, *, http: httpx.AsyncClient, limit: int, page: int = 1
    ) -> list[SearchHit]:
        params = {"q": query, "format": "json"}
        if page > 1:
            params["pageno"] = str(page)
        data = await api_json(http, self.name, f"{self.base_url}/search", params=params)
        items = as_list(data.get("results") if isinstance(data, dict) else None)
        return web_hits(items, self.name, snippet="content", published=("publishedDate",))
