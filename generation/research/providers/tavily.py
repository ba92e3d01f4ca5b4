"""Tavily's search API (needs TAVILY_API_KEY)."""

from __future__ import annotations

import httpx

from generation.research.base import SearchHit
from generation.research.providers._http import api_json, as_list, web_hits

DEFAULT_API = "https://api.tavily.com"


class TavilyProvider:
    name = "tavily"
    can_page = False  # research asks no further pages of it

    def __init__(self, api_key: str, api_url: str = DEFAULT_API) -> None:
        self.api_key = api_key
        self.api_url = api_url.rstrip("/")

    def __repr__(self) -> str:
        return f"TavilyProvider(api_url={self.api_url!r})"  # never the key

    async def search(
        self, query: str, *, http: httpx.AsyncClient, limit: int, page: int = 1
    ) -> list[SearchHit]:
        if page > 1:
            return []  # the API has no paging: a second page would repeat the first
        data = await api_json(
            http,
            self.name,
            f"{self.api_url}/search",
            method="POST",
            headers={"Authorization": f"Bearer {self.api_key}"},
            json_body={"query": query, "max_results": limit, "search_depth": "basic"},
        )
        items = as_list(data.get("results") if isinstance(data, dict) else None)
        return web_hits(items, self.name, snippet="content", published=("published_date",))
