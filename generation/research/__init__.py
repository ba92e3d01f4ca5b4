"""Web research for the pipeline: providers behind one interface, a guarded HTTP client,
fetching, extraction, dedupe and ranking. No ORM here: the pipeline saves the results.

May import: `generation.exceptions` and Django's settings; never the pipeline, the
execution half, the admin (Django's or ours) or the ORM (import contracts in pyproject)."""

from __future__ import annotations

from generation.research.base import FetchFailed, Provider, SearchHit, SourceDoc
from generation.research.collect import Findings, research
from generation.research.factory import (
    ResearchOptions,
    http_client_from_settings,
    providers_from_settings,
    research_options_from_settings,
    visitor_from_settings,
)
from generation.research.fetch import FetchedPage, fetch_page
from generation.research.guard import Guard, make_http_client
from generation.research.ranking import rank_documents, select_passages
from generation.research.text import canonical_url, content_hash, tokenize
from generation.research.visit import Visitor

__all__ = [
    "FetchFailed",
    "FetchedPage",
    "Findings",
    "Guard",
    "Provider",
    "ResearchOptions",
    "SearchHit",
    "SourceDoc",
    "Visitor",
    "canonical_url",
    "content_hash",
    "fetch_page",
    "http_client_from_settings",
    "make_http_client",
    "providers_from_settings",
    "rank_documents",
    "research",
    "research_options_from_settings",
    "select_passages",
    "tokenize",
    "visitor_from_settings",
]
