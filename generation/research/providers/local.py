"""A local folder of .md/.txt/.html files, searched by term overlap; no HTTP at all."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from generation.exceptions import FetchRefused
from generation.research.base import FetchFailed, SearchHit
from generation.research.extract import split_front_matter
from generation.research.fetch import DEFAULT_MAX_BYTES, FetchedPage
from generation.research.text import tokenize

CONTENT_TYPES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".html": "text/html",
    ".htm": "text/html",
}


class LocalProvider:
    name = "local"

    def __init__(self, root: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = Path(root).resolve()
        self.max_bytes = max_bytes

    async def search(
        self, query: str, *, http: httpx.AsyncClient, limit: int, page: int = 1
    ) -> list[SearchHit]:
        found = await asyncio.to_thread(self._search, query, limit * page)
        return found[(page - 1) * limit :]

    async def read(self, url: str) -> FetchedPage:
        """The file behind a hit of this provider; anything outside the folder is refused."""
        return await asyncio.to_thread(self._read, url)

    def _search(self, query: str, limit: int) -> list[SearchHit]:
        wanted = set(tokenize(query))
        scored = []
        for path in self._files():
            meta, text = split_front_matter(self._text(path))
            title = meta.get("title") or path.stem.replace("-", " ").replace("_", " ")
            score = len(wanted & set(tokenize(text))) + 2 * len(wanted & set(tokenize(title)))
            if score:
                snippet = " ".join(text.split())[:200]
                hit = SearchHit(path.as_uri(), title, snippet, self.name, meta.get("date", ""))
                scored.append((score, hit))
        scored.sort(key=lambda pair: -pair[0])
        return [hit for _, hit in scored[:limit]]

    def _files(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(
            p for p in self.root.rglob("*") if p.suffix.lower() in CONTENT_TYPES and p.is_file()
        )

    def _text(self, path: Path) -> str:
        with path.open("rb") as handle:
            return handle.read(self.max_bytes).decode("utf-8", errors="replace")

    def _read(self, url: str) -> FetchedPage:
        parts = urlsplit(url)
        if parts.scheme != "file":
            raise FetchRefused(f"refused: {self.name} reads only file:// URLs")
        path = Path(unquote(parts.path)).resolve()
        if not path.is_relative_to(self.root) or path.suffix.lower() not in CONTENT_TYPES:
            raise FetchRefused("refused: file is outside RESEARCH_LOCAL_DIR")
        try:
            if path.stat().st_size > self.max_bytes:
                raise FetchRefused(f"too large: more than {self.max_bytes} bytes")
            body = path.read_bytes()
        except OSError as exc:
            raise FetchFailed(f"cannot read file ({exc.strerror})") from exc
        return FetchedPage(path.as_uri(), CONTENT_TYPES[path.suffix.lower()], body, "utf-8")
