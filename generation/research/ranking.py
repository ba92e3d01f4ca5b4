"""BM25 scoring over passages: which sources answer the queries, and where in them."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from generation.research.text import split_passages, tokenize

K1 = 1.2
B = 0.75


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


def rank_documents(texts: Sequence[str], queries: Sequence[str]) -> list[float]:
    """Relevance in [0, 1] per text: its best passage per query, relative to the best text."""
    owners: list[int] = []
    passages: list[list[str]] = []
    for owner, text in enumerate(texts):
        for passage in split_passages(text):
            owners.append(owner)
            passages.append(tokenize(passage))
    index = BM25(passages)
    relevance = [0.0] * len(texts)
    query_terms = [terms for terms in (tokenize(query) for query in queries) if terms]
    for terms in query_terms:
        best = [0.0] * len(texts)
        for i, owner in enumerate(owners):
            best[owner] = max(best[owner], index.score(terms, i))
        top = max(best, default=0.0)
        if top > 0:
            for owner, value in enumerate(best):
                relevance[owner] += value / top / len(query_terms)
    return [round(value, 4) for value in relevance]


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
