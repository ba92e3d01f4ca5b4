"""Wikipedia through the MediaWiki search API; hits are article pages."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from generation.research.base import SearchHit
from generation.research.providers._http import api_json, as_list, as_text

DEFAULT_API = "https://en.wikipedia.org/w/api.php"


class WikipediaProvider:
    name = "wikipedia"

    def __init__(self, api_url: str = DEFAULT_API) -> None:
        self.api_url = api_url
        # Articles live at /wiki/<Title> on the API's own host.
        self.article_base = str(httpx.URL(api_url).join("/wiki/"))

    async def search(
        self, query: str, *, http: httpx.AsyncClient, limit: int, page: int = 1
    ) -> list[SearchHit]:
        params = {
            "action": "query",
            "list": "search",
            "srsearch": query,
            "srlimit": limit,
            **({"sroffset": (page - 1) * limit} if page > 1 else {}),
            "srprop": "snippet|timestamp",
            "format": "json",
            "formatversion": "2",
        }
        data = await api_json(http, self.name, self.api_url, params=params)
        results = as_list(data.get("query", {}).get("search") if isinstance(data, dict) else None)
        return [self._hit(item) for item in results if as_text(item.get("title"))]

    def _hit(self, item: dict) -> SearchHit:
        title = as_text(item.get("title"))
        return SearchHit(
            url=self.article_base + quote(title.replace(" ", "_"), safe="()_,'-"),
            title=title,
            snippet=as_text(item.get("snippet")),
            provider=self.name,
            published=as_text(item.get("timestamp")),
        )
