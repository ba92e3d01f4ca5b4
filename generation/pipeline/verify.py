"""Stage 5, citations: every claim in the post is backed by the passage it cites, or gone.

For each piece of the post (introduction, sections, conclusion), in order:

1. links and images other than this site's and the post's own sources are stripped (a
   link to one of its sources becomes that source's citation marker);
2. a sentence that addresses a model ("ignore previous instructions", "as an AI") is
   removed whatever its citation says;
3. a sentence already written in an earlier piece (or earlier in this one) is removed;
4. every claim — a sentence with citation markers, or one stating a figure — is checked
   against its sources (citations.SourceIndex); with GENERATION_CITATION_JUDGE the fast
   model then judges each claim that passed against its passage;
5. the claims that failed get one repair: one request per piece, all pieces at once, to
   rewrite each sentence from its passage; a rewrite is checked again like the first
   draft (and judged), and a sentence that fails again is removed.

A failed claim is never left behind as uncited prose.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import cast

from blog.links import LinkPolicy, strip_links
from generation.pipeline import prompts
from generation.pipeline.checkpoints import section_key
from generation.pipeline.evidence import judge as judging
from generation.pipeline.evidence.citations import (
    Claim,
    SourceIndex,
    Support,
    assemble,
    hold_reason,
    renumber,
)
from generation.pipeline.evidence.claims import Draft, Sentence, parse_draft
from generation.pipeline.evidence.untrusted import is_instruction, leaks_secret, recites_prompt
from generation.pipeline.llm import LLMClient
from generation.pipeline.types import CheckedPost, CitationReport, Outline, SectionDraft, Source
from generation.research import tokenize

INSTRUCTION_REASON = "addresses the model (instruction-like text)"
RECITAL_REASON = "recites the writer's instructions"
LEAK_REASON = "holds a configured secret"
REPEAT_MIN_WORDS = 3
NEAR_REPEAT_MIN_WORDS = 5
NEAR_REPEAT_OVERLAP = 0.8  # "…in memory" and "…on disk" (5 of 7 words) are not repeats


@dataclass(frozen=True)
class Piece:
    """A piece of the post and the sources its writer was given (empty: all of them)."""

    key: str
    text: str
    sources: tuple[int, ...] = ()


@dataclass
class Failure:
    """A claim that failed its check, with the passage it may be rewritten from."""

    piece: str
    sentence: Sentence
    reason: str
    score: float = 0.0
    passage: Support | None = None

    @property
    def repair_passage(self) -> Support:
        """The passage a repair works from: only failures that have one are repaired."""
        assert self.passage is not None
        return self.passage


@dataclass
class Rewrite:
    """A failed claim's rewrite, and its support (or why it failed in turn)."""

    failure: Failure
    text: str
    claim: str
    outcome: Support | str


@dataclass
class _Run:
    sources: dict[int, Source]
    indexes: dict[int, SourceIndex]
    threshold: float
    report: CitationReport = field(default_factory=CitationReport)

    def support(self, claim: Claim, number: int) -> Support:
        if number not in self.indexes:
            return Support(number, False, 0.0, "no such source")
        return self.indexes[number].check(claim, number=number, threshold=self.threshold)

    def best_passage(self, claim: Claim, numbers: Iterable[int]) -> Support | None:
        found = [self.support(claim, n) for n in numbers if n in self.indexes]
        found = [s for s in found if s.passage]
        return max(found, key=lambda s: s.score, default=None)

    def passage_tuple(self, support: Support) -> tuple[int, str, str]:
        return (support.number, self.sources[support.number].title, support.passage)

    def remove(self, sentence: Sentence, reason: str, score: float = 0.0) -> None:
        sentence.removed = reason
        self.report.removed.append(
            {
                "sentence": sentence.text[:300],
                "reason": reason,
                "numbers": sentence.cited,
                "score": round(score, 2),
            }
        )


async def check_post(
    llm: LLMClient,
    *,
    outline: Outline,
    draft: SectionDraft,
    sources: dict[int, Source],
    threshold: float,
    judge: bool,
    max_removed_share: float,
    secrets: tuple[str, ...] = (),
) -> CheckedPost:
    """The stage: verify every piece, assemble the post, number its sources in order of
    first citation, and say whether it must be held as a draft."""
    texts, report = await verify_post(
        llm,
        pieces=pieces_of(outline, draft),
        sources=sources,
        threshold=threshold,
        judge=judge,
        secrets=secrets,
    )
    body = assemble(
        outline,
        replace(draft.framing, introduction=texts["introduction"], conclusion=texts["conclusion"]),
        [texts[section_key(i)] for i in range(len(outline.sections))],
    )
    final, cited = renumber(body, cited=set(sources))
    report.held = hold_reason(report, max_removed_share=max_removed_share)
    return CheckedPost(body=final, cited=tuple(cited), report=report)


def pieces_of(outline: Outline, draft: SectionDraft) -> list[Piece]:
    """The post's pieces in reading order, each with the sources its writer was given."""
    return [
        Piece("introduction", draft.framing.introduction),
        *(
            Piece(section_key(i), text, plan.sources)
            for i, (plan, text) in enumerate(zip(outline.sections, draft.sections, strict=True))
        ),
        Piece("conclusion", draft.framing.conclusion),
    ]


async def verify_post(
    llm: LLMClient,
    *,
    pieces: list[Piece],
    sources: dict[int, Source],
    threshold: float,
    judge: bool = False,
    secrets: tuple[str, ...] = (),
) -> tuple[dict[str, str], CitationReport]:
    """Check, repair or remove every claim of every piece; returns texts and the report."""
    run = _Run(sources, {n: SourceIndex(s.text) for n, s in sources.items()}, threshold)
    policy = LinkPolicy.for_sources((n, s.url) for n, s in sources.items())
    drafts: list[Draft] = []
    for piece in pieces:
        text, links = strip_links(piece.text, policy=policy)
        run.report.links_removed += links
        drafts.append(parse_draft(piece.key, text, known=set(sources)))
    _drop_instructions(run, drafts, secrets)
    _drop_repeats(run, drafts)
    failures, passed = _first_check(run, drafts, pieces)
    rejected: list[Failure] = []
    if judge:
        run.report.judge = {"checked": 0, "supported": 0, "verdicts": []}
        rejected = await _judge(llm, run, passed)
    run.report.verified = len(passed) - len(rejected)
    failures += rejected
    await _repair_all(llm, run, failures, judge=judge)
    return {draft.key: draft.render() for draft in drafts}, run.report


def is_claim(sentence: Sentence) -> bool:
    return bool(sentence.cited) or bool(sentence.to_claim().figures)


def _drop_instructions(run: _Run, drafts: list[Draft], secrets: tuple[str, ...]) -> None:
    """Sentences that address a model, recite its prompt or hold a secret: a page talked
    the writer into them, whatever they cite."""
    for draft in drafts:
        for sentence in draft.sentences():
            if is_instruction(sentence.claim):
                reason = INSTRUCTION_REASON
            elif recites_prompt(sentence.claim, prompts.SYSTEM_PROMPTS):
                reason = RECITAL_REASON
            elif leaks_secret(sentence.text, secrets):
                reason = LEAK_REASON
            else:
                continue
            run.report.claims += 1
            run.remove(sentence, reason)


def _drop_repeats(run: _Run, drafts: list[Draft]) -> None:
    """Keep the first of sentences that say the same thing, wherever they were written:
    the same content words, or (for longer sentences) nearly all of them."""
    seen: list[frozenset[str]] = []
    for draft in drafts:
        for sentence in draft.sentences():
            words = frozenset(tokenize(sentence.claim))
            if sentence.removed or len(words) < REPEAT_MIN_WORDS:
                continue
            if any(_same(words, earlier) for earlier in seen):
                sentence.removed = "repeats an earlier sentence"
                run.report.repeats.append(sentence.text[:300])
            else:
                seen.append(words)


def _same(words: frozenset[str], earlier: frozenset[str]) -> bool:
    if words == earlier:
        return True
    shortest = min(len(words), len(earlier))
    return shortest >= NEAR_REPEAT_MIN_WORDS and (
        len(words & earlier) / len(words | earlier) >= NEAR_REPEAT_OVERLAP
    )


def _first_check(
    run: _Run, drafts: list[Draft], pieces: list[Piece]
) -> tuple[list[Failure], list[tuple[str, Sentence, Support]]]:
    failures: list[Failure] = []
    passed: list[tuple[str, Sentence, Support]] = []
    for draft, piece in zip(drafts, pieces, strict=True):
        for sentence in draft.sentences():
            if sentence.removed or not is_claim(sentence):
                continue
            run.report.claims += 1
            outcome = _check(run, sentence, piece)
            if isinstance(outcome, Failure):
                failures.append(outcome)
            else:
                passed.append((piece.key, sentence, outcome))
    return failures, passed


def _check(run: _Run, sentence: Sentence, piece: Piece) -> Failure | Support:
    """Check each citation of a sentence; the best supporting one, or the failure."""
    claim = sentence.to_claim()
    run.report.figures += len(claim.all_figures)
    cited = sentence.cited
    supports = [run.support(claim, number) for number in cited]
    sentence.verdicts = {s.number: s.ok for s in supports}
    if good := [s for s in supports if s.ok]:
        return max(good, key=lambda s: s.score)
    candidates = [n for n in cited if n in run.indexes] or list(piece.sources or run.indexes)
    passage = run.best_passage(claim, candidates)
    if not cited:
        reason = "states a figure without a citation"
    else:
        reason = max(supports, key=lambda s: s.score).reason
    score = max((s.score for s in supports), default=0.0)
    return Failure(piece.key, sentence, reason, score, passage)


async def _judge(
    llm: LLMClient, run: _Run, passed: list[tuple[str, Sentence, Support]]
) -> list[Failure]:
    """The fast model's verdict on each claim that passed; the rejected ones fail."""
    items = [(key, s.claim, run.passage_tuple(support)) for key, s, support in passed]
    verdicts = await judging.judge_claims(llm, items)
    failures = []
    for (key, sentence, support), verdict in zip(passed, verdicts, strict=True):
        _record_verdict(run, sentence.claim, support, verdict)
        if verdict is not None and not verdict.supported:
            sentence.verdicts = {}
            reason = f"judge: {verdict.reason or 'not supported'}"
            failures.append(Failure(key, sentence, reason, support.score, support))
    return failures


def _record_verdict(
    run: _Run, claim: str, support: Support, verdict: judging.Verdict | None
) -> None:
    judge = run.report.judge
    assert judge is not None  # verify() starts it when judging
    judge["checked"] += 1
    judge["supported"] += bool(verdict and verdict.supported)
    judge["verdicts"].append(
        {
            "sentence": claim[:300],
            "number": support.number,
            "lexical": support.score,
            "judge": None if verdict is None else verdict.supported,
            "reason": "" if verdict is None else verdict.reason[:200],
        }
    )


async def _repair_all(llm: LLMClient, run: _Run, failures: list[Failure], *, judge: bool) -> None:
    """One repair request per piece, all pieces at once; then the rewrites are checked."""
    repairable: dict[str, list[Failure]] = {}
    for failure in failures:
        if failure.passage is None or failure.sentence.table_row:
            run.remove(failure.sentence, failure.reason, failure.score)
        else:
            repairable.setdefault(failure.piece, []).append(failure)
    batches = list(repairable.values())
    replies = await asyncio.gather(*(_request_repair(llm, run, batch) for batch in batches))
    rewrites = [
        _recheck(run, failure, text)
        for batch, reply in zip(batches, replies, strict=True)
        for failure, text in zip(batch, reply, strict=True)
    ]
    if judge:
        await _judge_rewrites(llm, run, rewrites)
    for rewrite in rewrites:
        failure, outcome = rewrite.failure, rewrite.outcome
        if isinstance(outcome, str):
            reason = f"{failure.reason}; repair failed: {outcome}"
            run.remove(failure.sentence, reason, failure.score)
            continue
        before = failure.sentence.text
        failure.sentence.replace(rewrite.text, number=outcome.number)
        run.report.revised.append(
            {"before": before[:300], "after": failure.sentence.text[:300], "number": outcome.number}
        )


async def _request_repair(llm: LLMClient, run: _Run, batch: list[Failure]) -> list[str]:
    items = [
        (ident, f.sentence.text, f.reason, run.passage_tuple(f.repair_passage))
        for ident, f in enumerate(batch, start=1)
    ]
    answers = await judging.ask_numbered(
        llm, judging.REPAIR, user=prompts.repair_prompt(items), count=len(items)
    )
    return ["" if answer is None else str(answer["sentence"]) for answer in answers]


def _recheck(run: _Run, failure: Failure, text: str) -> Rewrite:
    """A rewrite's verdict against the passage's source, or why it fails."""
    text, _ = strip_links(text, policy=LinkPolicy())
    trial = Sentence("", failure.sentence.spans, failure.sentence.known)
    trial.replace(text, number=failure.repair_passage.number)
    rewrite = Rewrite(failure, text, trial.claim, "no supported rewrite")
    if not text.strip():
        return rewrite
    if is_instruction(trial.claim):
        rewrite.outcome = INSTRUCTION_REASON
        return rewrite
    claim = trial.to_claim()
    run.report.figures += len(claim.all_figures)
    support = run.support(claim, failure.repair_passage.number)
    rewrite.outcome = support if support.ok else support.reason
    return rewrite


async def _judge_rewrites(llm: LLMClient, run: _Run, rewrites: list[Rewrite]) -> None:
    passing = [r for r in rewrites if isinstance(r.outcome, Support)]
    items = [
        (r.failure.piece, r.claim, run.passage_tuple(cast(Support, r.outcome))) for r in passing
    ]
    verdicts = await judging.judge_claims(llm, items)
    for rewrite, verdict in zip(passing, verdicts, strict=True):
        _record_verdict(run, rewrite.claim, cast(Support, rewrite.outcome), verdict)
        if verdict is not None and not verdict.supported:
            rewrite.outcome = f"judge: {verdict.reason or 'not supported'}"
