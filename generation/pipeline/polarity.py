"""Polarity: whether a claim says what its source sentence says, or the opposite.

A claim can copy every word of a sentence and still reverse it: "was not associated"
for "was associated", "no longer supports" for "supports", "fell" for "rose". The claim
is aligned word by word with the sentence it copies (the one it shares most words with);
a negation ("not", "n't", "no", "never", "none", "without", "no longer", "neither … nor")
the claim brings where the sentence has none, one of the sentence's it drops, and a word
replaced by its antonym ("increased" for "decreased", "higher" for "lower", "before" for
"after") each reverse it. Two reversals cancel (a negation written as another negation,
"isn't" for "is not", "never" for "not once"), so polarity is their parity. A negation the
claim copies from its sentence is the sentence's own and changes nothing. Only what the
claim copies is compared: a clause it leaves out (with whatever negation it holds) is
not, nor is the other half of a claim that joins two sentences of the source.
citations.SourceIndex chooses the sentence and turns reversals into a failed check.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

from generation.research.text import STOPWORDS

NEGATIONS = frozenset(
    ("not", "no", "never", "none", "without", "neither", "nor", "nobody", "nothing", "nowhere")
)
_NOT_CONTENT = STOPWORDS | {"longer"}
EDIT_SPAN = 3  # at most this many source words left out at one place are an edit, not a cut
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_CONTRACTED = {"can't": "can", "won't": "will", "shan't": "shall", "ain't": "is"}

# Each word of an antonym pair, with its inflections, as (concept, direction).
_ANTONYM_TEXT = """
    increase increased increases increasing | decrease decreased decreases decreasing
    rise rises rose risen rising | fall falls fell fallen falling
    higher highest | lower lowest
    more most | less least fewer fewest
    before | after
    grow grows grew grown growing | shrink shrinks shrank shrunk shrinking
    larger largest bigger biggest | smaller smallest
    faster fastest | slower slowest
    above | below
    better best | worse worst
    gain gains gained gaining | lose loses lost losing
    maximum | minimum
    earlier earliest | later latest
    raise raises raised raising | lower lowers lowered lowering
"""


def _antonym_table(text: str) -> dict[str, tuple[int, int]]:
    table: dict[str, tuple[int, int]] = {}
    for concept, line in enumerate(filter(None, map(str.strip, text.splitlines()))):
        for direction, side in enumerate(line.split("|")):
            for form in side.split():
                table.setdefault(form, (concept, direction))  # "lower": higher/lower first
    return table


ANTONYMS = _antonym_table(_ANTONYM_TEXT)


def words(text: str) -> list[str]:
    """Lowercase words in order, contractions spelled out ("isn't" -> "is", "not")."""
    found: list[str] = []
    for word in _WORD.findall(text.lower().replace("\u2019", "'")):
        if word in _CONTRACTED:
            found += [_CONTRACTED[word], "not"]
        elif word.endswith("n't"):
            found += [word[:-3], "not"]
        elif word == "cannot":
            found += ["can", "not"]
        else:
            found.append(word.split("'")[0])
    return found


def reversals(claim: str, copied: str, *, others: Sequence[str] = ()) -> list[str]:
    """How `claim` reverses the sentence it copies, as descriptions ("'not' added",
    "'rose' for 'fell'"); empty when their polarity agrees (an even count cancels).

    Only the stretch of the claim that copies the sentence (and a few words either side)
    is compared: a claim that joins two sentences brings the other one's negations, and
    so does a negation another sentence of the source (`others`) states about the same
    word ("does not write the data to disk")."""
    said, original = words(claim), words(copied)
    matcher = SequenceMatcher(a=original, b=said, autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size]
    anchors = [b for b in blocks if b.size > 1 or said[b.b] not in STOPWORDS] or blocks
    if not anchors:
        return []
    low, high = anchors[0].b - EDIT_SPAN, anchors[-1].b + anchors[-1].size + EDIT_SPAN
    mine = [j for j in _negation_places(said) if low <= j < high]
    stated = _stated(others) if mine else set()
    found: list[str] = []
    opcodes = matcher.get_opcodes()
    last = len(opcodes) - 1
    for index, (op, i1, i2, j1, j2) in enumerate(opcodes):
        if op == "equal":
            continue
        left_out, brought = original[i1:i2], said[j1:j2]
        edge = index in (0, last) and op == "delete"
        if op == "delete" and (len(left_out) > EDIT_SPAN or edge) and not _only_negations(left_out):
            continue  # a clause the claim leaves out, not an edit of what it says
        added = [said[j] for j in mine if j1 <= j < j2]
        if len(brought) > EDIT_SPAN:  # a stretch of its own: its negations may be another's
            added = [said[j] for j in mine if j1 <= j < j2 and _negated(said, j) not in stated]
        dropped = [original[i] for i in _negation_places(original) if i1 <= i < i2]
        found += [f"'{w}' added" for w in added[len(dropped) :]]
        found += [f"'{w}' dropped" for w in dropped[len(added) :]]
        found += _antonyms(left_out, brought)
    return found if len(found) % 2 else []


def _stated(sentences: Sequence[str]) -> set[str]:
    """The words the sentences negate (each negation's next content word)."""
    return {_negated(x, i) for x in map(words, sentences) for i in _negation_places(x)} - {""}


def _negation_places(said: list[str]) -> list[int]:
    """Where `said` negates. "Neither … nor" and "not … nor" are one: "nor" counts only
    in a sentence with no other negation."""
    paired = any(w in NEGATIONS and w != "nor" for w in said)
    return [i for i, w in enumerate(said) if w in NEGATIONS and not (paired and w == "nor")]


def _negated(said: list[str], index: int) -> str:
    """The first content word within a few words after the negation at `index`."""
    after = said[index + 1 : index + 1 + 2 * EDIT_SPAN]
    return next((w for w in after if w not in NEGATIONS and w not in _NOT_CONTENT), "")


def _only_negations(span: list[str]) -> bool:
    return bool(span) and all(w in NEGATIONS or w in ("longer", "more") for w in span)


def _antonyms(left_out: list[str], brought: list[str]) -> list[str]:
    """Words of `brought` that replace their antonym in `left_out`."""
    found = []
    for word in brought:
        if word not in ANTONYMS:
            continue
        concept, direction = ANTONYMS[word]
        for other in left_out:
            if ANTONYMS.get(other) == (concept, 1 - direction):
                found.append(f"'{word}' for '{other}'")
                break
    return found
