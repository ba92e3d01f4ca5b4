"""arXiv through its export API (Atom); hits are abstract pages."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import httpx

from generation.exceptions import ProviderError
from generation.research.base import SearchHit
from generation.research.providers._http import api_call
from generation.research.text import STOPWORDS

DEFAULT_API = "https://export.arxiv.org/api/query"
_ATOM = "{http://www.w3.org/2005/Atom}"
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9+#.-]*")


def search_query(query: str) -> str:
    """arXiv syntax: every content word must appear somewhere (all:a AND all:b)."""
    words = [w for w in _WORD.findall(query) if w.lower() not in STOPWORDS][:6]
    return " AND ".join(f"all:{word}" for word in words) or f"all:{query.strip()}"


class ArxivProvider:
    name = "arxiv"

    def __init__(self, api_url: str = DEFAULT_API) -> None:
        self.api_url = api_url

    async def search(
        self, query: str, *, http: httpx.AsyncClient, limit: int, page: int = 1
    ) -> list[SearchHit]:
        params = {
            "search_query": search_query(query),
            "start": (page - 1) * limit,
            "max_results": limit,
        }
        body = await api_call(http, self.name, self.api_url, params=params)
        try:
            # The stdlib parser resolves no external entities and expat caps entity expansion.
            root = ElementTree.fromstring(body)  # noqa: S314
        except ElementTree.ParseError as exc:
            raise ProviderError(f"{self.name}: response is not valid Atom XML") from exc
        hits = [self._hit(entry) for entry in root.iter(f"{_ATOM}entry")]
        return [hit for hit in hits if hit.url.startswith(("http://", "https://"))]

    def _hit(self, entry: ElementTree.Element) -> SearchHit:
        def field(tag: str) -> str:
            return " ".join((entry.findtext(f"{_ATOM}{tag}") or "").split())

        url = field("id")
        if url.startswith("http://arxiv.org/"):
            url = "https://" + url.removeprefix("http://")
        return SearchHit(
            url=url,
            title=field("title"),
            snippet=field("summary"),
            provider=self.name,
            published=field("published"),
        )
