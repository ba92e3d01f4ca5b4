"""Checking a post's claims again against the new text of the sources they cite.

Only claims citing a source whose cited passage is gone (or whose passage was never
stored) are checked, each with the pipeline's own citation check (`SourceIndex.check`
at GENERATION_CITATION_THRESHOLD, against the source as the pipeline's checks see it:
instruction-like text dropped). With GENERATION_CITATION_JUDGE on, the fast model then
judges each claim the lexical check backs, as the pipeline would: the only LLM calls of a
verification. When today's budget (GENERATION_DAILY_BUDGET_USD) is spent, the judge is
not asked: the lexical verdicts stand and the verification says the judge was skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from generation.operations.usage import UsageLedger
from generation.pipeline.evidence import judge as judging
from generation.pipeline.evidence.citations import SourceIndex, Support
from generation.pipeline.evidence.claims import parse_draft
from generation.pipeline.evidence.untrusted import clean_source
from generation.pipeline.llm import LLMClient
from generation.pipeline.types import Source

JUDGE_SKIPPED = "judge skipped: today's budget is spent (GENERATION_DAILY_BUDGET_USD)"


@dataclass
class ClaimResult:
    """One cited sentence checked again against one source's new text."""

    source_number: int
    sentence: str
    claim: str  # the sentence without its markers, as the checks read it
    old_passage: str
    new_passage: str
    backed: bool
    reason: str = ""


@dataclass
class Rechecked:
    claims: list[ClaimResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    ledger: UsageLedger = field(default_factory=UsageLedger)


@dataclass(frozen=True)
class ChangedSource:
    """A source whose claims are checked again: its new text and what the post cited."""

    number: int
    title: str
    url: str
    new_text: str
    old_text: str  # the stored passages (or "" when none were stored)


def recheck_lexical(
    body: str, changed: dict[int, ChangedSource], *, threshold: float
) -> list[tuple[ClaimResult, Support]]:
    """Each (sentence, changed source it cites) checked against that source's new text."""
    fresh = {
        number: SourceIndex(clean_source(Source(number, s.title, s.url, s.new_text)).text)
        for number, s in changed.items()
    }
    old = {number: SourceIndex(s.old_text) for number, s in changed.items() if s.old_text}
    found = []
    for sentence in parse_draft("post", body, known=set(changed)).sentences():
        for number in dict.fromkeys(n for n in sentence.cited if n in changed):
            claim = sentence.to_claim()
            support = fresh[number].check(claim, number=number, threshold=threshold)
            before = (
                old[number].check(claim, number=number, threshold=threshold)
                if number in old
                else None
            )
            result = ClaimResult(
                source_number=number,
                sentence=sentence.text,
                claim=sentence.claim,
                old_passage=before.passage if before else "",
                new_passage=support.passage,
                backed=support.ok,
                reason=support.reason,
            )
            found.append((result, support))
    return found


async def recheck_claims(
    body: str,
    changed: dict[int, ChangedSource],
    *,
    threshold: float,
    judge: bool,
    budget_spent: bool,
    llm_client: Callable[[UsageLedger], LLMClient],
) -> Rechecked:
    """The claims citing changed sources, checked again; the judge (when on, and the
    budget allows) on those the lexical check backs. No claim to check: no LLM call."""
    done = Rechecked()
    checked = recheck_lexical(body, changed, threshold=threshold)
    done.claims = [result for result, _ in checked]
    backed = [(result, support) for result, support in checked if result.backed]
    if not (judge and backed):
        return done
    if budget_spent:
        done.notes.append(JUDGE_SKIPPED)
        return done
    items: list[judging.Item] = [
        ("verify", result.claim, (support.number, changed[support.number].title, support.passage))
        for result, support in backed
    ]
    async with llm_client(done.ledger) as llm:
        verdicts = await judging.judge_claims(llm, items)
    for (result, _), verdict in zip(backed, verdicts, strict=True):
        if verdict is not None and not verdict.supported:
            result.backed = False
            result.reason = f"judge: {verdict.reason or 'not supported'}"[:300]
    return done
