"""Reading a post's cited sources again, and what each came to.

Every page is read through research's one path (`research.visit.Visitor`): the SSRF
guard, robots.txt, a slot on its host (RESEARCH_PER_HOST across every worker), then the
research cache with a conditional request, so an unchanged page costs a 304 and no body.
A copy the cache took in the last VERIFY_CACHE_MAX_AGE_S seconds is used as it is
(another post of the same batch just read it). Then each source is classified:

- unchanged: the page's text is the text the post was written from (a 304 on a copy of
  it, or the same text); when that text is unknown, every cited passage is still there;
- changed: the text differs but every passage the post cites is still on the page;
- passage_gone: a cited passage is no longer on the page (its claims are checked again);
- gone: 404 or 410, or the site does not answer (DNS failure, connection refused);
- moved: a permanent redirect (301/308); the new page's content is classified too;
- skipped: no verdict (robots.txt disallows it, the guard refuses it, a timeout, another
  error status): not a flag.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import httpx

from generation.exceptions import FetchRefused
from generation.models import SourceCheck
from generation.pipeline.evidence.passages import passage_present
from generation.research import FetchFailed, Visitor, content_hash
from generation.research.extract import extract
from generation.research.visit import FROM_CACHE, REVALIDATED

logger = logging.getLogger(__name__)

Verdict = SourceCheck.Verdict
GONE_STATUSES = frozenset({404, 410})


@dataclass(frozen=True)
class Cited:
    """One source of the post, as the verification knows it before reading it."""

    number: int
    url: str
    title: str
    passages: tuple[str, ...]  # what the post cites from it (may be empty: unknown)
    old_hash: str = ""  # content hash of the text last known (unknown: "")


@dataclass
class Reading:
    """What reading one source again found."""

    number: int
    url: str
    verdict: str
    http_status: int | None = None
    moved_to: str = ""
    from_cache: str = ""  # "hit", "revalidated" (a 304) or ""
    fetched: bool = False  # a request was sent to the site
    new_text: str = ""
    new_hash: str = ""
    detail: str = ""
    recheck: bool = False  # its claims must be checked against new_text
    content: str = ""  # the content's verdict (also for a moved page): unchanged, changed...

    @property
    def not_modified(self) -> bool:
        return self.from_cache == REVALIDATED


async def reread_sources(
    sources: list[Cited],
    *,
    http: httpx.AsyncClient,
    visitor: Visitor,
    concurrency: int,
    max_bytes: int,
    max_age: float,
) -> list[Reading]:
    """Each source read again (at most `concurrency` at once; the host slots bound each
    site further) and classified, in the order given."""
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(source: Cited) -> Reading:
        async with gate:
            return await reread(
                source, http=http, visitor=visitor, max_bytes=max_bytes, max_age=max_age
            )

    return list(await asyncio.gather(*(one(source) for source in sources)))


async def reread(
    source: Cited, *, http: httpx.AsyncClient, visitor: Visitor, max_bytes: int, max_age: float
) -> Reading:
    """One source read again and classified."""
    reading = Reading(source.number, source.url, Verdict.SKIPPED)
    try:
        visit = await visitor.read(http, source.url, max_bytes=max_bytes, max_age=max_age)
    except FetchRefused as exc:
        reading.detail = str(exc)[:300]
        return reading
    except FetchFailed as exc:
        reading.fetched = True
        reading.http_status = exc.status
        reading.detail = str(exc)[:300]
        if exc.status in GONE_STATUSES or exc.unreachable:
            reading.verdict = Verdict.GONE
        return reading
    page = visit.page
    reading.from_cache = visit.cache
    reading.fetched = visit.cache != FROM_CACHE
    reading.http_status = 304 if visit.cache == REVALIDATED else page.status
    reading.moved_to = page.moved_to
    try:
        text = (await asyncio.to_thread(extract, page)).text
    except Exception as exc:  # hostile markup must not sink the verification
        logger.exception("Extracting %s failed", source.url)
        reading.detail = f"extraction failed ({type(exc).__name__})"
        return reading
    return classified(reading, source, text)


def classified(reading: Reading, source: Cited, text: str) -> Reading:
    """The verdict on a page read again, from its text now."""
    reading.new_text, reading.new_hash = text, content_hash(text) if text else ""
    present = all(passage_present(passage, text) for passage in source.passages)
    if source.old_hash and reading.new_hash == source.old_hash:
        verdict, detail = Verdict.UNCHANGED, "same text"
    elif not source.old_hash and source.passages and present:
        # The text it was written from is unknown (a post older than its run's research,
        # or written by hand): what it cites is all there is to compare.
        verdict, detail = Verdict.UNCHANGED, "cited passages intact; no earlier text to compare"
    elif not source.passages:
        # Nothing stored to look for: the claims themselves are checked again.
        verdict, detail, reading.recheck = Verdict.CHANGED, "no stored passage", True
    elif present:
        verdict, detail = Verdict.CHANGED, "text changed, cited passages intact"
    else:
        missing = sum(not passage_present(p, text) for p in source.passages)
        verdict, detail = (
            Verdict.PASSAGE_GONE,
            f"{missing} of {len(source.passages)} cited passages gone",
        )
        reading.recheck = True
    if reading.moved_to:
        reading.verdict = Verdict.MOVED
        reading.detail = f"moved to {reading.moved_to}; {verdict.label.lower()}"[:300]
    else:
        reading.verdict = verdict
        reading.detail = detail
    reading.content = verdict
    return reading
