"""Stage 5, citations: the deterministic check of one claim against one source.

Support is lexical: the share of the claim's content words found in the best window of
three consecutive sentences of the cited source. In that same window every figure the
claim states (numbers, percentages, dates, numbers spelled out) must occur, and every
name it relies on (capitalised words, acronyms, identifiers); in the very sentence it
copies, when it nearly copies one. A sentence that is right but for its number or its
product name is not supported, and neither is a near-copy that swaps one of the copied
sentence's terms for another term of the same page ("a B-tree index" -> "a hash index"
on a page about both): a paraphrase brings words of its own, a conflation moves the
page's. Nor is a claim that reverses the sentence it copies (a negation added or
dropped, a word swapped for its antonym: generation/pipeline/polarity.py).
generation/pipeline/verify.py runs the whole stage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from blog.links import map_prose
from blog.markdown import CITATION_MARKER
from generation.pipeline.claims import NUMBER_WORDS, Claim, figures_in_source
from generation.pipeline.polarity import NEGATIONS, reversals
from generation.pipeline.types import CitationReport, Framing, Outline
from generation.research import tokenize
from generation.research.text import STOPWORDS

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
WINDOW = 3
COPY_SHARE = 0.8  # a claim with this share of one sentence's words is a copy of it
POLARITY_SHARE = 0.5  # a claim with this share of a sentence's words must keep its polarity
SWAP_SPAN = 3  # at most this many words replaced at one place count as a swap
_NEGATION_STEMS = frozenset(tokenize(" ".join(NEGATIONS)))
_RAW_WORD = re.compile(r"[a-z0-9][a-z0-9_+#-]*(?:\.[a-z0-9_+#-]+)*")


@dataclass(frozen=True)
class Span:
    """The content words and figures of a sentence, or of a window of sentences."""

    words: frozenset[str]
    figures: frozenset[str]
    text: str = ""

    @classmethod
    def of(cls, text: str) -> Span:
        return cls(frozenset(tokenize(text)), frozenset(figures_in_source(text)), text)


@dataclass(frozen=True)
class Window:
    text: str
    whole: Span
    sentences: tuple[Span, ...]

    def scope(self, claim: Claim) -> Span:
        """Where the claim's figures and names must be found: in the sentence it nearly
        copies, when it copies one (so that "once" -> "twice" is caught although the next
        sentence says "twice"); else anywhere in the window."""
        words = {w for w in claim.words if not w.isdigit()}  # the figures may be what changed
        closest = max(self.sentences, key=lambda s: len(words & s.words))
        if words and len(words & closest.words) >= COPY_SHARE * len(words):
            return closest
        return self.whole


@dataclass(frozen=True)
class Support:
    """The verdict on one (claim, source) pair; `passage` is the best window's text."""

    number: int
    ok: bool
    score: float
    reason: str = ""
    passage: str = ""


class SourceIndex:
    """A source cut into overlapping windows of three sentences."""

    def __init__(self, text: str) -> None:
        sentences = [s.strip() for s in SENTENCE_END.split(text) if s.strip()]
        self.vocabulary = frozenset(raw_words(text))
        spans = [Span.of(s) for s in sentences]
        self.sentences = list({s.text: s for s in spans}.values())
        size = max(1, min(WINDOW, len(sentences)))
        self.windows = [
            Window(
                " ".join(sentences[i : i + size]),
                Span(
                    frozenset().union(*(s.words for s in spans[i : i + size])),
                    frozenset().union(*(s.figures for s in spans[i : i + size])),
                ),
                tuple(spans[i : i + size]),
            )
            for i in range(max(1, len(sentences) - size + 1))
            if sentences
        ]

    def check(self, claim: Claim, *, number: int, threshold: float) -> Support:
        """The best window for the claim, and whether it supports it."""
        if not claim.words or not self.windows:
            return Support(number, False, 0.0, "states nothing the source could support")
        # A claim that copies a sentence is judged against what it copies: a changed
        # number is not excused by a looser window elsewhere that happens to hold it.
        copies = [w for w in self.windows if w.scope(claim) is not w.whole]
        flips, copied = self.reversals(claim)
        verdicts = [(self._verdict(claim, w, flips, copied), w) for w in copies or self.windows]
        verdict, best = max(verdicts, key=lambda v: v[0].rank(threshold))
        reason = verdict.reason(threshold)
        return Support(number, not reason, verdict.score, reason, best.text)

    def reversals(self, claim: Claim) -> tuple[list[str], frozenset[str]]:
        """How the claim reverses the sentence of the source it copies (the one with most
        of its words; of several, the one it reverses least), and that sentence's text.
        A claim that holds too little of any one sentence copies none."""
        words = {w for w in claim.words if not w.isdigit()}
        best = max((len(words & s.words) for s in self.sentences), default=0)
        if not words or best < POLARITY_SHARE * len(words):
            return [], frozenset()
        closest = [s.text for s in self.sentences if len(words & s.words) == best]
        others = [s.text for s in self.sentences if words & s.words and s.text not in closest]
        found = (reversals(claim.text, text, others=others) for text in closest)
        return min(found, key=len), frozenset(closest)

    def _verdict(
        self, claim: Claim, window: Window, flips: list[str], copied: frozenset[str]
    ) -> Verdict:
        """How a claim fares in one window: its score and what the window lacks (and,
        for a claim that reverses its sentence, whether the window holds that sentence)."""
        score = round(len(claim.words & window.whole.words) / len(claim.words), 2)
        scope = window.scope(claim)
        figures = [f for f in claim.all_figures if f not in scope.figures]
        names, swaps = claim.names, []
        if scope is not window.whole:  # a copy that changes its subject ("Celery supports…")
            names = names | (claim.opening - _NEGATION_STEMS)  # "None of…": polarity's
            swaps = swapped_terms(claim.text, scope.text, vocabulary=self.vocabulary)
        holds = any(s.text in copied for s in window.sentences)
        return Verdict(score, figures, sorted(names - scope.words), swaps, flips, holds)


@dataclass(frozen=True)
class Verdict:
    """(support score, figures missing, names missing, terms swapped, polarity reversed,
    holds the sentence the claim copies) in one window."""

    score: float
    figures: list[str]
    names: list[str]
    swaps: list[str]
    reversals: list[str] = field(default_factory=list)
    holds: bool = False

    def rank(self, threshold: float) -> tuple:
        enough = self.score >= threshold
        clean = enough and not self.figures
        backed = clean and not self.names
        upright = backed and not self.swaps
        return (upright and not self.reversals, upright, backed, clean, self.score, self.holds)

    def reason(self, threshold: float) -> str:
        if self.score < threshold:
            return "not supported by the source"
        if self.figures:
            return f"figure {', '.join(self.figures)} not in the cited passage"
        if self.names:
            return f"{', '.join(self.names)} not in the cited passage"
        if self.swaps:
            return f"swaps {'; '.join(self.swaps)} (another term of the same source)"
        if self.reversals:
            return (
                f"says the opposite of the cited passage ({'; '.join(self.reversals)}); "
                "keep the passage's negations and directions"
            )
        return ""


def raw_words(text: str) -> list[str]:
    """Lowercase words in order, unstemmed, stopwords kept (alignment needs them all)."""
    return _RAW_WORD.findall(text.lower())


def _term(word: str) -> bool:
    return word not in STOPWORDS or word in NUMBER_WORDS


def swapped_terms(claim: str, copied: str, *, vocabulary: frozenset[str]) -> list[str]:
    """Places where a near-copy replaces the copied sentence's terms by other terms the
    source uses ("once" -> "twice", "B-tree" -> "hash"), as "'old' for 'new'"."""
    said, original = raw_words(claim), raw_words(copied)
    swaps = []
    matcher = SequenceMatcher(a=original, b=said, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "replace" or max(i2 - i1, j2 - j1) > SWAP_SPAN:
            continue
        dropped = [w for w in original[i1:i2] if _term(w) and w not in said]
        brought = [w for w in said[j1:j2] if _term(w) and w not in original[i1:i2]]
        if dropped and brought and all(w in vocabulary for w in brought):
            swaps.append(f"'{' '.join(original[i1:i2])}' for '{' '.join(said[j1:j2])}'")
    return swaps


def hold_reason(report: CitationReport, *, max_removed_share: float) -> str:
    """Why the post must stay a draft whatever was asked, or "" when it may be published."""
    if report.claims and report.removed_share() > max_removed_share:
        return (
            f"{len(report.removed)} of {report.claims} claims "
            f"({report.removed_share():.0%}) were removed, more than "
            f"GENERATION_MAX_REMOVED_SHARE={max_removed_share:g}"
        )
    if not report.kept:
        return "no claim in the post is backed by a source"
    return ""


def renumber(markdown: str, *, cited: set[int]) -> tuple[str, list[int]]:
    """Number cited sources 1..k in order of first citation; return text and old numbers.

    Only markers whose numbers were all verified are rewritten: any other bracketed
    number (`[60, 300, 900]`) is text and stays as written, and so does code.
    """
    order: list[int] = []

    def new_number(old: int) -> int:
        if old not in order:
            order.append(old)
        return order.index(old) + 1

    def rewrite(match: re.Match) -> str:
        olds = [int(n) for n in match.group(1).split(",")]
        if not all(n in cited for n in olds):
            return match.group(0)
        return "".join(f"[{n}]" for n in sorted({new_number(n) for n in olds}))

    text = map_prose(markdown, lambda prose: CITATION_MARKER.sub(rewrite, prose))
    return text, order


def assemble(outline: Outline, framing: Framing, sections: list[str]) -> str:
    """Introduction, one `##` part per section that kept any text, conclusion."""
    parts = [framing.introduction.strip()]
    for plan, text in zip(outline.sections, sections, strict=True):
        if text.strip():
            parts.append(f"## {plan.heading}\n\n{text.strip()}")
    if framing.conclusion.strip():
        parts.append(f"## Conclusion\n\n{framing.conclusion.strip()}")
    return "\n\n".join(part for part in parts if part)
