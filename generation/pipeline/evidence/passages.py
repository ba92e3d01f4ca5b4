"""The passages a post cites from each of its sources, kept with the post.

At publishing, each source of the post keeps the windows of its text that the post's
claims cite (the citation check's best window for each claim), so a living post can
later tell whether what it quoted is still on the page, and readers can be shown it once
the page is gone. Passages are joined by a blank line, whitespace collapsed, and bounded.
"""

from __future__ import annotations

from collections.abc import Mapping

from generation.pipeline.evidence.citations import SourceIndex
from generation.pipeline.evidence.claims import parse_draft

MAX_PASSAGE_CHARS = 4000
SEPARATOR = "\n\n"


def cited_passages(body: str, texts: Mapping[int, str], *, threshold: float) -> dict[int, str]:
    """Source number -> the passages the body's claims cite from its text (in the order
    first cited, each once), for the sources whose text is known."""
    indexes = {number: SourceIndex(text) for number, text in texts.items() if text.strip()}
    found: dict[int, list[str]] = {}
    for sentence in parse_draft("post", body, known=set(texts)).sentences():
        cited = [number for number in sentence.cited if number in indexes]
        if not cited:
            continue
        claim = sentence.to_claim()
        for number in cited:
            passage = normalized(
                indexes[number].check(claim, number=number, threshold=threshold).passage
            )
            if passage and passage not in found.setdefault(number, []):
                found[number].append(passage)
    return {number: bounded(passages) for number, passages in found.items() if passages}


def bounded(passages: list[str]) -> str:
    """Passages joined, as many whole ones as fit in MAX_PASSAGE_CHARS (the first one at
    least, cut to fit)."""
    kept: list[str] = []
    size = 0
    for passage in passages:
        if kept and size + len(SEPARATOR) + len(passage) > MAX_PASSAGE_CHARS:
            break
        kept.append(passage[:MAX_PASSAGE_CHARS])
        size += len(SEPARATOR) + len(passage)
    return SEPARATOR.join(kept)


def passages_of(stored: str) -> list[str]:
    """The passages of a stored `PostSource.passage`."""
    return [passage for passage in stored.split(SEPARATOR) if passage.strip()]


def normalized(text: str) -> str:
    """Whitespace collapsed: how passages are stored and looked for in a page's text."""
    return " ".join(text.split())


def passage_present(passage: str, text: str) -> bool:
    """Whether a stored passage is still, word for word, in a page's text."""
    return normalized(passage) in normalized(text)
