"""Hacker News through the Algolia search API; hits are the stories' links."""

from __future__ import annotations

import httpx

from generation.research.base import SearchHit
from generation.research.providers._http import api_json, as_list, as_text

DEFAULT_API = "https://hn.algolia.com/api/v1"
ITEM_URL = "https://news.ycombinator.com/item?id="


class HackerNewsProvider:
    name = "hackernews"

    def __init__(self, api_url: str = DEFAULT_API) -> None:
        self.api_url = api_url.rstrip("/")

    async def search(
        self, query: str, *, http: httpx.AsyncClient, limit: int, page: int = 1
    ) -> list[SearchHit]:
        params = {"query": query, "tags": "story", "hitsPerPage": limit}
        if page > 1:
            params["page"] = page - 1  # Algolia counts pages from 0
        data = await api_json(http, self.name, f"{self.api_url}/search", params=params)
        items = as_list(data.get("hits") if isinstance(data, dict) else None)
        hits = [self._hit(item) for item in items]
        return [hit for hit in hits if hit.url and hit.title]

    def _hit(self, item: dict) -> SearchHit:
        url = as_text(item.get("url"))
        if not url and as_text(item.get("objectID")):
            url = ITEM_URL + as_text(item.get("objectID"))  # Ask HN: the discussion is the page
        return SearchHit(
            url=url,
            title=as_text(item.get("title")),
            snippet=as_text(item.get("story_text"))[:500],
            provider=self.name,
            published=as_text(item.get("created_at")),
        )
