"""The research layer's data types and its one provider interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import httpx

from generation.exceptions import GenerationError

# Field limits of generation.models.ResearchSource, so a saved doc never overflows a column.
MAX_URL = 2000
MAX_TITLE = 300
MAX_PUBLISHED = 40
MAX_REASON = 300

RETRYABLE_STATUSES = frozenset({408, 425, 429})

KEPT = "kept"
DROPPED = "dropped"
FAILED = "failed"


class FetchFailed(GenerationError):
    """A page could not be fetched (timeout, HTTP error, connection failure).

    `status` is the HTTP status of an error answer; `unreachable` says the site did not
    answer at all (DNS failure, connection refused): what re-verification calls "gone".
    `transient` says the same fetch may well succeed later (a timeout, a stall, a dropped
    connection, HTTP 408, 425, 429 or 5xx): research that came up short for such reasons is
    worth retrying, one short of on-topic pages is not.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        unreachable: bool = False,
        transient: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.unreachable = unreachable
        self.transient = transient or status in RETRYABLE_STATUSES or (status or 0) >= 500


@dataclass(frozen=True)
class SearchHit:
    """One search result: where to look, never something to write from."""

    url: str
    title: str
    snippet: str
    provider: str
    published: str = ""


@runtime_checkable
class Provider(Protocol):
    """A search backend. Providers that are not on the web may also define `read(url)`.

    `limit` is how many results to ask for where the API takes a number; every result
    returned is used. `page` 2, 3, ... asks for the next results (only once the pool's
    reserve is empty); a provider that cannot page sets `can_page = False` (or returns no
    hits for them). Page 1 is asked without it.
    """

    name: str

    async def search(
        self, query: str, *, http: httpx.AsyncClient, limit: int, page: int = 1
    ) -> list[SearchHit]: ...


@dataclass
class SourceDoc:
    """A page found while researching: its extracted text and what became of it."""

    url: str
    title: str
    domain: str
    provider: str
    published: str
    text: str
    content_hash: str
    status: str  # "kept" | "dropped" | "failed"
    reason: str = ""
    relevance: float = 0.0
    cache: str = ""  # "hit" (reused from the research cache), "revalidated" (a 304), or ""
    transient: bool = False  # lost to time or a passing failure: a later try may read it

    def __post_init__(self) -> None:
        self.url = self.url[:MAX_URL]
        self.title = " ".join(self.title.split())[:MAX_TITLE]
        self.published = self.published[:MAX_PUBLISHED]
        self.reason = self.reason[:MAX_REASON]
