"""One post's verification, from its plan to its findings (no writes).

Its sources are read again (`reread`), the claims citing a source whose cited passage is
gone are checked again (`recheck`), and the verdict is drawn: the post is flagged when a
claim no longer holds or a cited source is gone. Posts are otherwise left alone.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from django.conf import settings

from generation.freshness.plan import Plan
from generation.freshness.recheck import ChangedSource, Rechecked, recheck_claims
from generation.freshness.reread import Reading, Verdict, reread_sources
from generation.pipeline.evidence.passages import SEPARATOR
from generation.pipeline.llm import LLMClient
from generation.research import http_client_from_settings, visitor_from_settings


@dataclass
class Findings:
    readings: list[Reading]
    rechecked: Rechecked

    @property
    def failed_claims(self) -> list[int]:
        """The source numbers of the claims that no longer hold (one per claim)."""
        return [claim.source_number for claim in self.rechecked.claims if not claim.backed]

    @property
    def gone(self) -> list[Reading]:
        return [reading for reading in self.readings if reading.verdict == Verdict.GONE]

    @property
    def flagged(self) -> bool:
        return bool(self.failed_claims or self.gone)

    def count(self, verdict: str) -> int:
        return sum(reading.verdict == verdict for reading in self.readings)

    def refresh_reason(self) -> str:
        """One line: what no longer holds ("" when nothing)."""
        parts = []
        if failed := self.failed_claims:
            numbers = ", ".join(f"[{n}]" for n in sorted(set(failed)))
            parts.append(f"{len(failed)} claim(s) no longer backed by {numbers}")
        if gone := self.gone:
            listed = ", ".join(f"[{r.number}] ({r.detail})" for r in gone)
            parts.append(f"source(s) gone: {listed}")
        return "; ".join(parts)[:300]

    def summary(self) -> str:
        verdicts = ", ".join(f"{self.count(v)} {v.label.lower()}" for v in Verdict if self.count(v))
        claims = self.rechecked.claims
        line = f"{len(self.readings)} source(s): {verdicts or 'none'}"
        if claims:
            line += f"; {len(claims)} claim(s) checked again, {len(self.failed_claims)} failed"
        return "; ".join([line, *self.rechecked.notes])[:300]


def verify_plan(plan: Plan, *, budget_spent: bool) -> Findings:
    """Read the plan's sources again and check the claims that need it (blocking: runs
    its own event loop). `budget_spent`: today's budget is used up (no judge call)."""
    return asyncio.run(_verify(plan, budget_spent=budget_spent))


async def _verify(plan: Plan, *, budget_spent: bool) -> Findings:
    async with visitor_from_settings() as visitor, http_client_from_settings() as http:
        readings = await reread_sources(
            plan.cited,
            http=http,
            visitor=visitor,
            concurrency=settings.RESEARCH_FETCH_CONCURRENCY,
            max_bytes=settings.RESEARCH_MAX_BYTES,
            max_age=settings.VERIFY_CACHE_MAX_AGE_S,
        )
    by_number = {cited.number: cited for cited in plan.cited}
    changed = {
        reading.number: ChangedSource(
            number=reading.number,
            title=by_number[reading.number].title,
            url=reading.url,
            new_text=reading.new_text,
            old_text=SEPARATOR.join(by_number[reading.number].passages),
        )
        for reading in readings
        if reading.recheck
    }
    rechecked = await recheck_claims(
        plan.post.body,
        changed,
        threshold=settings.GENERATION_CITATION_THRESHOLD,
        judge=settings.GENERATION_CITATION_JUDGE,
        budget_spent=budget_spent,
        llm_client=lambda ledger: LLMClient.from_settings(ledger=ledger),
    )
    return Findings(readings, rechecked)
