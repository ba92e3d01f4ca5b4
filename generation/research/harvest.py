"""Fetching the candidate pool in order, a few pages at a time, until enough are usable.

- Backfill: a page that fails or is unusable frees its slot for the next candidate.
- Stop: once `target` usable, on-topic pages are in, nothing new starts (the rest of the
  pool stays unread); fetches already in flight finish unless they straggle.
- Straggler cut: once `enough` are in, a fetch still running after `straggler_factor`
  times the slowest page that arrived (at least MIN_STRAGGLER_S) is cut.
- Deadline: whatever is still running at `deadline` is cut.

Every page that took a slot ends as a SourceDoc recording its fate and why.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from generation.exceptions import FetchRefused
from generation.research.base import DROPPED, FAILED, KEPT, FetchFailed, SearchHit, SourceDoc
from generation.research.extract import Extracted, extract
from generation.research.fetch import FetchedPage
from generation.research.pool import Candidate, domain_of, failed_doc
from generation.research.ranking import above_floor, rank_tokenized, tokenized_passages
from generation.research.text import content_hash
from generation.research.visit import Visit, Visitor

logger = logging.getLogger(__name__)

MIN_TEXT_CHARS = 200
MIN_STRAGGLER_S = 0.5
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Limits:
    """How far a harvest goes: see the module docstring."""

    concurrency: int
    max_bytes: int
    target: int
    enough: int
    deadline: float  # time.monotonic() value
    straggler_factor: float
    relevance_floor: float


@dataclass
class _Arrival:
    doc: SourceDoc
    passages: list[list[str]]  # tokenized, for ranking (empty when nothing was read)
    seconds: float
    arrived: bool  # a body came back: counts towards the stragglers' yardstick
    order: int = 0  # place in the pool: of two copies, the earlier one is kept


class Harvest:
    """The fetch loop over a pool that the caller may refill between runs."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        queries: list[str],
        limits: Limits,
        progress: Progress,
        visitor: Visitor | None = None,
        topic: str = "",
    ) -> None:
        self.http = http
        self.visitor = visitor or Visitor()
        self.queries = queries  # what relevance is measured against: the first round's
        self.topic = topic  # ... and the run's subject, whose terms a page must cover
        self.limits = limits
        self.progress = progress
        self.pool: deque[tuple[int, Candidate]] = deque()  # (place in the pool, candidate)
        self.docs: list[SourceDoc] = []
        self._places: dict[int, int] = {}  # id(doc) -> place in the pool
        self.usable: list[SourceDoc] = []
        self._passages: dict[int, list[list[str]]] = {}
        self._copies: dict[str, tuple[int, SourceDoc]] = {}  # content hash -> first copy
        self._admitted = 0
        self._durations: list[float] = []
        self._flights: dict[asyncio.Task[_Arrival], tuple[Candidate, float, int]] = {}
        self._cut_tasks: list[asyncio.Task[_Arrival]] = []
        self._on_topic: tuple[int, int] = (0, 0)  # (usable count it was computed for, result)

    def admit(self, candidates: list[Candidate], refusals: list[str | None]) -> None:
        """Queue candidates in order; those with a refusal become failed docs at once."""
        for item, refusal in zip(candidates, refusals, strict=True):
            self._admitted += 1
            if refusal is None:
                self.pool.append((self._admitted, item))
            else:
                self._add_doc(failed_doc(item.hit, refusal), self._admitted)

    def ordered_docs(self) -> list[SourceDoc]:
        """Every page tried or refused, in pool order (so reports read the same each time)."""
        return sorted(self.docs, key=lambda doc: self._places.get(id(doc), 0))

    def _add_doc(self, doc: SourceDoc, place: int) -> None:
        self._places[id(doc)] = place
        self.docs.append(doc)

    # --- the loop -----------------------------------------------------------------------

    async def run(self, *, can_refill: bool = False) -> None:
        """Fetch until done. With `can_refill`, return early when the pool is empty, too
        few pages are in and everything in flight is straggling, so the caller can add a
        second round of candidates (the fetches in flight go on meanwhile)."""
        try:
            while True:
                self._launch()
                if not self._flights:
                    return
                await self._wait()
                if time.monotonic() >= self.limits.deadline:
                    self._cut_all("the research deadline passed")
                    return
                # At the target nothing new starts; pages already in flight (earlier in
                # the pool than any left) are still awaited unless they straggle.
                if self.on_topic() >= self.limits.enough:
                    self._cut_stragglers()
                elif can_refill and not self.pool and self._all_straggling():
                    return
        except BaseException:
            self._cut_all("research stopped")
            raise

    def close(self) -> None:
        """Cut whatever is still in flight (research is over)."""
        self._cut_all("research ended")

    async def settle(self) -> None:
        """Wait until every fetch that was cut has unwound (given back its host slot)."""
        cut, self._cut_tasks = self._cut_tasks, []
        await asyncio.gather(*cut, return_exceptions=True)

    def _launch(self) -> None:
        while (
            self.pool
            and len(self._flights) < self.limits.concurrency
            and self.on_topic() < self.limits.target
        ):
            place, item = self.pool.popleft()
            task = asyncio.create_task(self._fetch(item, place))
            # A page fetched over HTTP starts its clock once it holds a host slot (see
            # _begin): waiting behind another fetch to the same host is not straggling.
            began = time.monotonic() if item.reader is not None else math.inf
            self._flights[task] = (item, began, place)

    async def _wait(self) -> None:
        timeout = max(self._next_check() - time.monotonic(), 0.01)
        done, _ = await asyncio.wait(
            self._flights, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        for task in done:
            self._flights.pop(task)
            self._record(task.result())

    def _next_check(self) -> float:
        """When the loop must look again even if nothing finishes: deadline or a straggler."""
        moments = [self.limits.deadline]
        threshold = self._straggler_after()
        if threshold is not None:
            now = time.monotonic()
            becomes = (started + threshold for _item, started, _place in self._flights.values())
            moments += [moment for moment in becomes if moment > now]  # not those already past
        return min(moments)

    # --- stragglers -----------------------------------------------------------------------

    def _straggler_after(self) -> float | None:
        """Seconds after which a fetch is a straggler; None until some page has arrived."""
        if not self._durations:
            return None
        return max(self.limits.straggler_factor * max(self._durations), MIN_STRAGGLER_S)

    def _stragglers(self) -> list[asyncio.Task[_Arrival]]:
        threshold = self._straggler_after()
        if threshold is None:
            return []
        now = time.monotonic()
        return [task for task, flight in self._flights.items() if now - flight[1] > threshold]

    def _all_straggling(self) -> bool:
        return bool(self._flights) and len(self._stragglers()) == len(self._flights)

    def _cut_stragglers(self) -> None:
        slowest = max(self._durations, default=0.0)
        for task in self._stragglers():
            waited = time.monotonic() - self._flights[task][1]
            why = f"still loading after {waited:.1f}s (arrived pages took {slowest:.1f}s at most)"
            self._cut(task, why)

    def _cut_all(self, why: str) -> None:
        for task in list(self._flights):
            self._cut(task, why)

    def _cut(self, task: asyncio.Task[_Arrival], why: str) -> None:
        item, _started, place = self._flights.pop(task)
        task.cancel()
        self._cut_tasks.append(task)
        doc = _doc(item.hit, item.hit.url, status=DROPPED, reason=f"cut: {why}", transient=True)
        self._add_doc(doc, place)
        self.progress(f"Cut {doc.url}: {why}")

    # --- outcomes -------------------------------------------------------------------------

    def _record(self, arrival: _Arrival) -> None:
        doc = arrival.doc
        if arrival.arrived:
            self._durations.append(arrival.seconds)
        if doc.status == KEPT:
            self._judge(doc, arrival.passages, arrival.order)
        self._add_doc(doc, arrival.order)
        self.progress(f"Fetched {len(self.docs)}: {doc.status} {doc.url}")

    def _judge(self, doc: SourceDoc, passages: list[list[str]], order: int) -> None:
        """Thin and duplicate pages are dropped at once; the rest count as usable.

        Of two copies the one earlier in the pool stays, whichever arrived first.
        """
        size = len(doc.text.strip())
        if size < MIN_TEXT_CHARS:
            doc.status, doc.reason = DROPPED, f"too short: {size} characters"
            return
        first = self._copies.get(doc.content_hash)
        if first is not None and first[0] < order:
            doc.status, doc.reason = DROPPED, f"duplicate of {first[1].url}"
            return
        if first is not None:
            later = first[1]
            later.status, later.reason = DROPPED, f"duplicate of {doc.url}"
            self.usable.remove(later)
        self._copies[doc.content_hash] = (order, doc)
        self._passages[id(doc)] = passages
        self.usable.append(doc)

    def relevance(self) -> list[float]:
        """Relevance of each usable page to the queries and the topic, in `usable` order."""
        passages = [self._passages[id(doc)] for doc in self.usable]
        return rank_tokenized(
            passages,
            self.queries,
            topic=self.topic,
            enough=self.limits.enough,
            floor=self.limits.relevance_floor,
        )

    def on_topic(self) -> int:
        """Usable pages above the relevance floor (recomputed only when a page arrives)."""
        if self._on_topic[0] != len(self.usable):
            kept = above_floor(self.relevance(), self.limits.relevance_floor)
            self._on_topic = (len(self.usable), sum(kept))
        return self._on_topic[1]

    # --- one fetch ------------------------------------------------------------------------

    def _begin(self) -> float:
        """The fetch of the calling task starts now (it holds its host slot)."""
        now = time.monotonic()
        task = asyncio.current_task()
        if task is not None and task in self._flights:
            item, _began, place = self._flights[task]
            self._flights[task] = (item, now, place)
        return now

    async def _fetch(self, item: Candidate, order: int) -> _Arrival:
        started = time.monotonic()
        hit = item.hit

        def begin() -> None:
            nonlocal started
            started = self._begin()

        try:
            if item.reader is not None:
                visit = Visit(await item.reader(hit.url))
            else:
                visit = await self.visitor.read(
                    self.http, hit.url, max_bytes=self.limits.max_bytes, on_start=begin
                )
        except (FetchRefused, FetchFailed) as exc:
            logger.info("Research fetch of %s failed: %s", hit.url, exc)
            seconds = time.monotonic() - started
            transient = getattr(exc, "transient", False)  # FetchRefused never is
            failed = _doc(hit, hit.url, status=FAILED, reason=str(exc), transient=transient)
            return _Arrival(failed, [], seconds, arrived=False, order=order)
        seconds = time.monotonic() - started
        page = visit.page
        try:
            extracted, passages = await asyncio.to_thread(_read, page)
        except Exception as exc:
            # Parsers meet hostile markup here; one bad page must not sink the run.
            logger.exception("Extracting %s failed", hit.url)
            reason = f"extraction failed ({type(exc).__name__})"
            failed = _doc(hit, hit.url, status=FAILED, reason=reason)
            return _Arrival(failed, [], seconds, arrived=True, order=order)
        doc = _doc(
            hit,
            page.url,
            status=KEPT,
            title=extracted.title or hit.title,
            text=extracted.text,
            published=extracted.published or hit.published,
        )
        doc.cache = visit.cache
        return _Arrival(doc, passages, seconds, arrived=True, order=order)


def _read(page: FetchedPage) -> tuple[Extracted, list[list[str]]]:
    """Extraction and tokenizing, both CPU work for a thread. The title is ranked with the
    text: it names what the page is about, often in the topic's own words."""
    extracted = extract(page)
    return extracted, tokenized_passages(f"{extracted.title}\n{extracted.text}")


def _doc(
    hit: SearchHit,
    url: str,
    *,
    status: str,
    reason: str = "",
    title: str = "",
    text: str = "",
    published: str = "",
    transient: bool = False,
) -> SourceDoc:
    return SourceDoc(
        url=url,
        title=title or hit.title,
        domain=domain_of(url),
        provider=hit.provider,
        published=published or hit.published,
        text=text,
        content_hash=content_hash(text) if text else "",
        status=status,
        reason=reason,
        transient=transient,
    )
