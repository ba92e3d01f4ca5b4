"""BM25 scoring over passages: which sources answer the queries, and where in them."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from generation.research.text import split_passages, tokenize

K1 = 1.2
B = 0.75
TOP_PASSAGES = 3
SATURATION = 0.5  # a topic term said once counts 2/3 of one said often (tf / (tf + this))


class BM25:
    """Okapi BM25 over a fixed list of tokenized passages."""

    def __init__(self, passages: Sequence[list[str]]) -> None:
        self.counts = [Counter(tokens) for tokens in passages]
        self.lengths = [len(tokens) for tokens in passages]
        self.avg_length = (sum(self.lengths) / len(self.lengths)) if self.lengths else 0.0
        frequency = Counter(term for counts in self.counts for term in counts)
        total = len(self.counts)
        # The "+1" form keeps every idf positive, even for a term found in most passages.
        self.idf = {t: math.log(1 + (total - n + 0.5) / (n + 0.5)) for t, n in frequency.items()}

    def score(self, terms: Sequence[str], index: int) -> float:
        counts, length = self.counts[index], self.lengths[index]
        norm = K1 * (1 - B + B * length / self.avg_length) if self.avg_length else K1
        total = 0.0
        for term in set(terms):
            tf = counts.get(term, 0)
            if tf:
                total += self.idf[term] * tf * (K1 + 1) / (tf + norm)
        return total


def rank_documents(texts: Sequence[str], queries: Sequence[str], *, topic: str = "") -> list[float]:
    """Relevance in [0, 1] per text to all the queries together, weighed by how fully it
    covers `topic` when one is given (see rank_tokenized); the best text scores 1."""
    return rank_tokenized([tokenized_passages(text) for text in texts], queries, topic=topic)


def tokenized_passages(text: str) -> list[list[str]]:
    """A text's passages, tokenized: what rank_tokenized needs (worth caching per page)."""
    return [tokenize(passage) for passage in split_passages(text)]


def rank_tokenized(
    documents: Sequence[list[list[str]]],
    queries: Sequence[str],
    *,
    topic: str = "",
    enough: int = 1,
    floor: float = 0.0,
) -> list[float]:
    """rank_documents over texts already cut into tokenized passages.

    Per query, a text scores the mean of its TOP_PASSAGES best passages, so a page about
    the query outranks one that mentions it once in passing (a PostgreSQL page with one
    sentence on job queues is no source on job queues). Scores are summed over queries
    before scaling, so a query of rare, specific terms weighs more than one of common
    words ("a practical guide") that many pages match. With a `topic`, a text must name
    at least half of the topic's distinct terms (one of two, two of three) or it scores
    0, and its sum is multiplied by its topic_coverage. Planned queries pad the
    topic with generic words, and a page that repeats one of its words (a shell article
    saying "home" nine times, for "home baking recipes") must not pass for one about it.
    When that leaves fewer than `enough` texts at `floor` times the best score or above,
    the queries alone judge: pages on a sub-topic the planner searched ("speculative
    decoding" for "LLM optimization") may name none of the topic's words, and a run must
    not fail for want of them.
    """
    owners = [owner for owner, passages in enumerate(documents) for _ in passages]
    index = BM25([tokens for passages in documents for tokens in passages])
    totals = [0.0] * len(documents)
    for terms in (tokenize(query) for query in queries):
        if not terms:
            continue
        scores: list[list[float]] = [[] for _ in documents]
        for i, owner in enumerate(owners):
            scores[owner].append(index.score(terms, i))
        for owner, each in enumerate(scores):
            totals[owner] += sum(sorted(each, reverse=True)[:TOP_PASSAGES]) / TOP_PASSAGES
    subject = set(tokenize(topic))
    if subject:
        coverage = topic_coverage(documents, topic)
        named = [len(_named(subject, passages)) for passages in documents]
        judged = [
            value * share if 2 * count >= len(subject) else 0.0
            for value, share, count in zip(totals, coverage, named, strict=True)
        ]
        if sum(above_floor(judged, floor)) >= enough:
            totals = judged
    top = max(totals, default=0.0)
    return [round(value / top, 4) if top > 0 else 0.0 for value in totals]


def _named(terms: set[str], passages: list[list[str]]) -> set[str]:
    return {term for passage in passages for term in passage if term in terms}


def topic_coverage(documents: Sequence[list[list[str]]], topic: str) -> list[float]:
    """How fully each text covers the topic's terms, in [0, 1]: Lucene's "coord", saturated.

    Each distinct topic term counts tf / (tf + SATURATION) in a text (said once 0.67, nine
    times 0.95) and the terms weigh alike, so repeating one word never stands in for the
    others. Alike, not by IDF over the candidate pool: the pool is what the topic's own
    searches found, so the topic's central word ("python") is in most candidates and
    would weigh least, leaving a page that has only the vaguer words ("development
    practices") well covered. Generic words are the queries' padding, which BM25's IDF
    already discounts; they are not in the topic.
    """
    terms = set(tokenize(topic))
    if not terms:
        return [0.0] * len(documents)
    coverage = []
    for passages in documents:
        counts = Counter(term for passage in passages for term in passage if term in terms)
        share = sum(found / (found + SATURATION) for found in counts.values()) / len(terms)
        coverage.append(share)
    return coverage


def above_floor(relevance: Sequence[float], floor: float) -> list[bool]:
    """Which scores reach `floor` times the best score (an off-topic page never does)."""
    best = max(relevance, default=0.0)
    return [value > 0 and value >= floor * best for value in relevance]


def select_passages(text: str, terms: list[str] | str, *, max_chars: int = 2500) -> list[str]:
    """The passages of `text` that best match `terms`, within `max_chars`, in document order."""
    passages = split_passages(text)
    if not passages:
        return []
    wanted = tokenize(terms if isinstance(terms, str) else " ".join(terms))
    index = BM25([tokenize(passage) for passage in passages])
    scores = [index.score(wanted, i) for i in range(len(passages))]
    order = sorted((i for i in range(len(passages)) if scores[i] > 0), key=lambda i: -scores[i])
    lead = not order  # nothing matches: the opening of the text is the best guess
    chosen: list[int] = []
    used = 0
    for i in order or range(len(passages)):
        if used + len(passages[i]) > max_chars:
            if lead:
                break
            continue
        chosen.append(i)
        used += len(passages[i])
    if not chosen:
        return [passages[(order or [0])[0]][:max_chars]]
    return [passages[i] for i in sorted(chosen)]
