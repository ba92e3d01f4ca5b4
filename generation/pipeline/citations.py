"""Stage 5, citations: every [n] must name a real source that supports its sentence.

Support is lexical: the share of the sentence's content words found in the best window
of three consecutive sentences of the cited source. A citation below the threshold, or
naming no source, is removed; the counts and the removed sentences form the report.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from generation.research import tokenize

CITE_BARE = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\](?!\()")
CITE = re.compile(r"\s?" + CITE_BARE.pattern)
# "claim. [1]" -> "claim [1]." so the citation stays with the sentence it supports.
TRAILING = re.compile(r"([.!?])((?:\s?\[\d{1,3}(?:\s*,\s*\d{1,3})*\])+)")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
WINDOW = 3


@dataclass
class CitationReport:
    total: int = 0
    verified: int = 0
    removed: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"total": self.total, "verified": self.verified, "removed": self.removed}


def _windows(text: str) -> list[frozenset[str]]:
    sentences = [tokenize(s) for s in SENTENCE_END.split(text) if s.strip()]
    if not sentences:
        return []
    span = min(WINDOW, len(sentences))
    return [
        frozenset(word for s in sentences[i : i + span] for word in s)
        for i in range(len(sentences) - span + 1)
    ]


def support_score(claim: str, windows: list[frozenset[str]]) -> float:
    """Share of the claim's distinct content words found in the best source window."""
    words = set(tokenize(claim))
    if not words or not windows:
        return 0.0
    return max(len(words & window) for window in windows) / len(words)


def check_citations(
    markdown: str, sources: dict[int, str], *, threshold: float
) -> tuple[str, CitationReport]:
    """Remove unsupported or dangling citations; return the cleaned text and the report."""
    windows_of = lru_cache(maxsize=None)(lambda n: _windows(sources[n]))
    report = CitationReport()
    lines = [
        _check_line(line, sources, windows_of, threshold, report)
        for line in TRAILING.sub(r"\2\1", markdown).split("\n")
    ]
    return "\n".join(lines), report


def _check_line(
    line: str,
    sources: dict[int, str],
    windows_of: Callable[[int], list[frozenset[str]]],
    threshold: float,
    report: CitationReport,
) -> str:
    if not CITE.search(line) or line.lstrip().startswith("#"):
        return line
    return " ".join(
        _check_sentence(s, sources, windows_of, threshold, report) for s in SENTENCE_END.split(line)
    )


def _check_sentence(
    sentence: str,
    sources: dict[int, str],
    windows_of: Callable[[int], list[frozenset[str]]],
    threshold: float,
    report: CitationReport,
) -> str:
    claim = " ".join(CITE.sub(" ", sentence).split())

    def keep(match: re.Match) -> str:
        kept = []
        for number in (int(n) for n in match.group(1).split(",")):
            report.total += 1
            if number not in sources:
                reason, score = "no such source", 0.0
            else:
                score = support_score(claim, windows_of(number))
                reason = "" if score >= threshold else "not supported by the source"
            if reason:
                report.removed.append(
                    {
                        "number": number,
                        "sentence": claim[:300],
                        "reason": reason,
                        "score": round(score, 2),
                    }
                )
            else:
                report.verified += 1
                kept.append(number)
        return f" [{', '.join(map(str, kept))}]" if kept else ""

    return CITE.sub(keep, sentence)


def renumber(markdown: str) -> tuple[str, list[int]]:
    """Number cited sources 1..k in order of first citation; return text and old numbers."""
    order: list[int] = []

    def new_number(old: int) -> int:
        if old not in order:
            order.append(old)
        return order.index(old) + 1

    def rewrite(match: re.Match) -> str:
        numbers = sorted({new_number(int(n)) for n in match.group(1).split(",")})
        return "".join(f"[{n}]" for n in numbers)

    return CITE_BARE.sub(rewrite, markdown), order


def assemble(outline: dict, framing: dict, sections: list[str]) -> str:
    """Introduction, one `##` part per section, conclusion."""
    parts = [framing["introduction"].strip()]
    for plan, text in zip(outline["sections"], sections, strict=True):
        parts.append(f"## {plan['heading']}\n\n{text.strip()}")
    parts.append(f"## Conclusion\n\n{framing['conclusion'].strip()}")
    return "\n\n".join(part for part in parts if part)
