"""The tag rules our code enforces, whatever the model proposes.

A tag names a subject a reader would browse by: stop-words ("from", "under"), filler
("guide", "hood", "first") and names under three letters are dropped, a stop-word at either
end is trimmed ("the kv cache" is "kv cache"), and tags are compared in lower case and in
the singular, so "Indexes" finds an existing "index" and two spellings never become two
tags. Pure functions of strings: no ORM, no LLM.
"""

from __future__ import annotations

import functools
import re

import justext

TAGS_MAX = 8
# Words that say how a post is written, not what it is about (the angles' vocabulary).
_FILLER_TEXT = """
    angle article articles basic basics best better beginner beginners blog check checked
    checklist common complete deep dive everything explained first guide guides hood how
    intro introduction lesson lessons look matter matters measuring myth myths newcomer
    newcomers note notes overview part post posts practical practice pitfall pitfalls
    primer running source sources sourced step steps team teams thing things tip tips
    today trade trade-off trade-offs tradeoff tradeoffs ultimate understanding using way
    ways what why work works
"""
FILLER = frozenset(_FILLER_TEXT.split())


@functools.cache
def stop_words() -> frozenset[str]:
    """English stop-words (jusText's list, shipped with trafilatura) and our filler."""
    return frozenset(word.lower() for word in justext.get_stoplist("English")) | FILLER


def singular(word: str) -> str:
    """A comparison key, not a spelling: "indexes" and "index", "retries" and "retry"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("xes", "ches", "shes", "sses", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tag_key(tag: str) -> str:
    """Lower case, each word singular: two tags with one key are one tag."""
    return " ".join(singular(word) for word in tag.lower().split())


def clean_tag(name: str) -> str:
    """The tag a proposed name stands for, or "" when it names no subject."""
    text = re.sub(r"<[^>]*>", " ", str(name).lower())  # markup is never part of a name
    words = re.sub(r"[^\w\s+#.-]", " ", text).replace("_", " ").split()
    words = [word.strip(".-") for word in words if word.strip(".-")]
    stop = stop_words()
    while words and words[0] in stop:
        words.pop(0)
    while words and words[-1] in stop:
        words.pop()
    tag = " ".join(words)[:50].strip()
    letters = sum(char.isalpha() for char in tag)
    if letters < 3 or all(word in stop for word in words):
        return ""
    return tag


def choose_tags(proposed: list[str], *, existing: list[str]) -> list[str]:
    """At most TAGS_MAX clean tags, each spelled as an existing tag when one has its key."""
    known: dict[str, str] = {}
    for name in existing:
        known.setdefault(tag_key(name), name)
    chosen: dict[str, str] = {}
    for name in proposed:
        tag = clean_tag(name)
        if tag and (key := tag_key(tag)) not in chosen:
            chosen[key] = known.get(key, tag)
    return list(chosen.values())[:TAGS_MAX]
