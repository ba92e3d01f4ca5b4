"""Stage 5, citations: the deterministic check of one claim against one source.

Support is lexical: the share of the claim's content words found in the best window of
three consecutive sentences of the cited source. In that same window every figure the
claim states (numbers, percentages, dates, numbers spelled out) must occur, and every
name it relies on (capitalised words, acronyms, identifiers); in the very sentence it
copies, when it nearly copies one. A sentence that is right but for its number or its
product name is not supported. generation/pipeline/verify.py runs the whole stage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from blog.links import map_prose
from blog.markdown import CITATION_MARKER
from generation.pipeline.claims import Claim, figures_in_source
from generation.research import tokenize

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
WINDOW = 3
COPY_SHARE = 0.8  # a claim with this share of one sentence's words is a copy of it


@dataclass(frozen=True)
class Span:
    """The content words and figures of a sentence, or of a window of sentences."""

    words: frozenset[str]
    figures: frozenset[str]

    @classmethod
    def of(cls, text: str) -> Span:
        return cls(frozenset(tokenize(text)), frozenset(figures_in_source(text)))


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
        spans = [Span.of(s) for s in sentences]
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
        verdicts = [(_verdict(claim, w), w) for w in copies or self.windows]
        (score, figures, names), best = max(verdicts, key=lambda v: _rank(v[0], threshold))
        if score < threshold:
            return Support(number, False, score, "not supported by the source", best.text)
        if figures:
            reason = f"figure {', '.join(figures)} not in the cited passage"
            return Support(number, False, score, reason, best.text)
        if names:
            reason = f"{', '.join(names)} not in the cited passage"
            return Support(number, False, score, reason, best.text)
        return Support(number, True, score, "", best.text)


def _verdict(claim: Claim, window: Window) -> tuple[float, list[str], list[str]]:
    """(support score, figures missing, names missing) of a claim in one window."""
    score = round(len(claim.words & window.whole.words) / len(claim.words), 2)
    scope = window.scope(claim)
    figures = [f for f in claim.all_figures if f not in scope.figures]
    names = claim.names
    if scope is not window.whole:  # a copy that changes its subject ("Celery supports…")
        names = names | claim.opening
    return score, figures, sorted(names - scope.words)


def _rank(verdict: tuple[float, list[str], list[str]], threshold: float) -> tuple:
    score, figures, names = verdict
    enough = score >= threshold
    return (enough and not figures and not names, enough and not figures, score)


@dataclass
class CitationReport:
    """What the check found in one post: claims checked, verified, revised, removed."""

    claims: int = 0
    verified: int = 0
    figures: int = 0
    revised: list[dict] = field(default_factory=list)
    removed: list[dict] = field(default_factory=list)
    repeats: list[str] = field(default_factory=list)
    links_removed: int = 0
    judge: dict | None = None
    held: str = ""

    @property
    def kept(self) -> int:
        return self.verified + len(self.revised)

    def removed_share(self) -> float:
        return len(self.removed) / self.claims if self.claims else 0.0

    def as_dict(self) -> dict:
        return {
            "claims": self.claims,
            "verified": self.verified,
            "revised": self.revised,
            "removed": self.removed,
            "figures": self.figures,
            "repeats": self.repeats,
            "links_removed": self.links_removed,
            "judge": self.judge,
            "held": self.held,
        }


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


def assemble(outline: dict, framing: dict, sections: list[str]) -> str:
    """Introduction, one `##` part per section that kept any text, conclusion."""
    parts = [framing["introduction"].strip()]
    for plan, text in zip(outline["sections"], sections, strict=True):
        if text.strip():
            parts.append(f"## {plan['heading']}\n\n{text.strip()}")
    if framing["conclusion"].strip():
        parts.append(f"## Conclusion\n\n{framing['conclusion'].strip()}")
    return "\n\n".join(part for part in parts if part)
