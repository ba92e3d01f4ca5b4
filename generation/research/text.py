"""Text helpers shared by ranking, dedupe and the citation checker."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_WORD = re.compile(r"[a-z0-9]+(?:[+#]+|(?:\.[0-9]+)*)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")

_STOPWORD_TEXT = """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers herself him himself his how
    i if in into is it its itself just may me might more most must my myself no nor not
    now of off on once only or other our ours ourselves out over own same shall she should
    so some such than that the their theirs them themselves then there these they this
    those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves one two use used using
    via per vs etc eg ie many much well like get gets got make makes made way ways
    aren isn wasn weren don doesn didn won wouldn couldn shouldn hasn haven ll ve re
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def _stem(word: str) -> str:
    """A deliberately light stemmer, so "indexes", "caching" and "cache" meet their stem."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    elif word.endswith(("ing", "ed")):
        stem = word[:-3] if word.endswith("ing") else word[:-2]
        if len(stem) >= (3 if word.endswith("ing") else 4):
            word = stem[:-1] if _doubled(stem) else stem
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def _doubled(stem: str) -> bool:
    return len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "aeiouls"


def tokenize(text: str) -> list[str]:
    """Lowercase content words without stopwords, lightly stemmed, in text order."""
    words = (match.group() for match in _WORD.finditer(text.lower()))
    return [_stem(word) for word in words if len(word) > 1 and word not in STOPWORDS]


def canonical_url(url: str) -> str:
    """The form two hits must share to be the same page (host case, fragment, utm_*, slash)."""
    parts = urlsplit(url.strip())
    netloc = parts.netloc.rsplit("@", 1)[-1].lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if (parts.scheme.lower(), port) in (("http", 80), ("https", 443)):
        netloc = netloc.rsplit(":", 1)[0]
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = [(key, value) for key, value in pairs if not key.lower().startswith("utm_")]
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), netloc, path, urlencode(query), ""))


def normalize_text(text: str) -> str:
    return " ".join(text.lower().split())


def content_hash(text: str) -> str:
    """sha256 of the normalized text: equal for pages that differ only in case or spacing."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()


def split_passages(text: str, *, target: int = 600) -> list[str]:
    """Cut text into passages of about `target` characters, never splitting a sentence."""
    passages: list[str] = []
    current = ""
    for block in (line.strip() for line in text.splitlines()):
        for index, piece in enumerate(_pieces(block, target)):
            if current and len(current) + len(piece) + 1 > target:
                passages.append(current)
                current = ""
            # Lines stay lines (a heading must not run into the sentence after it);
            # the sentences of one long paragraph stay on one line.
            separator = " " if index else "\n"
            current = f"{current}{separator}{piece}" if current else piece
        if current and len(current) >= target // 2:
            passages.append(current)
            current = ""
    if current:
        passages.append(current)
    return passages


def _pieces(block: str, target: int) -> list[str]:
    """A paragraph, or its sentences when the paragraph is longer than a passage."""
    if not block:
        return []
    if len(block) <= target:
        return [block]
    return [sentence for sentence in _SENTENCE_END.split(block) if sentence]
