"""Research providers, one class each, all with `name` and `async search(...)`."""

from __future__ import annotations

from generation.research.providers.arxiv import ArxivProvider
from generation.research.providers.brave import BraveProvider
from generation.research.providers.hackernews import HackerNewsProvider
from generation.research.providers.local import LocalProvider
from generation.research.providers.searxng import SearxngProvider
from generation.research.providers.tavily import TavilyProvider
from generation.research.providers.wikipedia import WikipediaProvider

__all__ = [
    "ArxivProvider",
    "BraveProvider",
    "HackerNewsProvider",
    "LocalProvider",
    "SearxngProvider",
    "TavilyProvider",
    "WikipediaProvider",
]
