"""A SearXNG instance's JSON API (its settings must enable the json format)."""

from __future__ import annotations

import httpx

from generation.research.base import SearchHit
from generation.research.providers._http import api_json, as_list, as_text


class SearxngProvider:
    name = "searxng"

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    async def search(self, query: str, *, http: httpx.AsyncClient, limit: int) -> list[SearchHit]:
        params = {"q": query, "format": "json"}
        data = await api_json(http, self.name, f"{self.base_url}/search", params=params)
        items = as_list(data.get("results") if isinstance(data, dict) else None)
        hits = [
            SearchHit(
                url=as_text(item.get("url")),
                title=as_text(item.get("title")),
                snippet=as_text(item.get("content")),
                provider=self.name,
                published=as_text(item.get("publishedDate")),
            )
            for item in items
        ]
        return [hit for hit in hits if hit.url][:limit]
