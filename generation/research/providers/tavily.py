"""Tavily's search API (needs TAVILY_API_KEY)."""

from __future__ import annotations

import httpx

from generation.research.base import SearchHit
from generation.research.providers._http import api_json, as_list, as_text

DEFAULT_API = "https://api.tavily.com"


class TavilyProvider:
    name = "tavily"

    def __init__(self, api_key: str, api_url: str = DEFAULT_API) -> None:
        self.api_key = api_key
        self.api_url = api_url.rstrip("/")

    def __repr__(self) -> str:
        return f"TavilyProvider(api_url={self.api_url!r})"  # never the key

    async def search(self, query: str, *, http: httpx.AsyncClient, limit: int) -> list[SearchHit]:
        data = await api_json(
            http,
            self.name,
            f"{self.api_url}/search",
            method="POST",
            headers={"Authorization": f"Bearer {self.api_key}"},
            json_body={"query": query, "max_results": limit, "search_depth": "basic"},
        )
        items = as_list(data.get("results") if isinstance(data, dict) else None)
        hits = [
            SearchHit(
                url=as_text(item.get("url")),
                title=as_text(item.get("title")),
                snippet=as_text(item.get("content")),
                provider=self.name,
                published=as_text(item.get("published_date")),
            )
            for item in items
        ]
        return [hit for hit in hits if hit.url][:limit]
