"""Reading a draft: its lines and sentences, which brackets are citations, its figures.

Only citation markers are citations. Code blocks and code spans are never read (they
stay exactly as written), and a bracketed number is a marker only in a citation's
place (`blog.markdown.CITATION_MARKER`) and when it could name a source: `[60, 300,
900]`, `items[1]` or `[2024]` stay as written. A number slightly above the highest
source (`[14]` of 12) is read as a citation of a source that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from blog.links import CODE_SPAN, code_lines, mask_code, unmask_code
from blog.markdown import CITATION_MARKER
from generation.research import tokenize

# How far above the highest source number a bracketed number still reads as a citation.
UNKNOWN_SLACK = 10
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"'\u201d\u2019)])\s+")
_PREFIX = re.compile(r"^(\s*(?:(?:[-*+]|\d{1,9}[.)])\s+|>\s?)*)")
_BLOCK_START = re.compile(r"^\s*(?:[-*+]\s|\d{1,9}[.)]\s|>|#|\||```|~~~)")
_TRAILING = re.compile(r"([.!?])((?:\s?\[\d{1,3}(?:\s*,\s*\d{1,3})*\])+)")
# Emphasis marks, not the underscores inside identifiers such as asyncio.to_thread.
_EMPHASIS = re.compile(r"(?<!\w)[*_~]+|[*_~]+(?!\w)")
_PLACEHOLDER = re.compile("\ue000\\d+\ue001")
FIGURE = re.compile(
    r"(?<![\w.])(?<!\w-)(\d+(?:[.,]\d+)*)(?:\s?(?:%|percent\b|per cent\b)|[x\u00d7](?!\w))?(?!\w)",
    re.I,
)
_CAPITALISED = re.compile(r"(?<![\w'])([A-Z][\w+#-]*)")
_IDENTIFIER = re.compile(r"\b[A-Za-z_]\w*(?:[._][A-Za-z_]\w*)+\b")
_AMBIGUOUS = frozenset({"one", "once", "single", "double", "half", "quarter", "third"})
_SMALL_NUMBERS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen twenty"
)
NUMBER_WORDS = dict(zip(_SMALL_NUMBERS.split(), map(str, range(21)), strict=True)) | {
    "thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70",
    "eighty": "80", "ninety": "90", "hundred": "100", "thousand": "1000",
    "million": "1000000", "once": "1", "twice": "2", "single": "1", "double": "2",
    "half": "0.5", "quarter": "0.25", "third": "3", "fourth": "4", "fifth": "5",
}  # fmt: skip


def marker_numbers(group: str) -> list[int]:
    return [int(n) for n in group.split(",")]


def is_citation(numbers: list[int], *, known: set[int]) -> bool:
    """A marker names a known source, or could only be meant as one (a small number)."""
    if any(n in known for n in numbers):
        return True
    ceiling = max(known, default=0) + UNKNOWN_SLACK
    return len(numbers) <= 3 and all(1 <= n <= ceiling for n in numbers)


def normalize_figure(raw: str) -> str:
    """ "1,000" and "1000", "08" and "8", "1.50" and "1.5" are the same figure."""
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", raw):
        raw = raw.replace(",", "")
    try:
        return format(Decimal(raw).normalize(), "f")
    except InvalidOperation:
        return raw


def figures_in(text: str) -> list[str]:
    """The figures a sentence states: numbers, percentages, dates (digits only)."""
    return [normalize_figure(m.group(1)) for m in FIGURE.finditer(text)]


def figures_in_source(text: str) -> set[str]:
    """Figures a passage contains, digits or words ("three times" supports "3 times")."""
    words = {NUMBER_WORDS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in NUMBER_WORDS}
    return set(figures_in(text)) | words


def counts_in(text: str) -> list[str]:
    """Numbers a sentence spells out, as digits. Words that are often not numbers ("one
    of", "once the job ends", "a single") are left to the digits and the judge."""
    words = re.findall(r"[a-z]+", text.lower())
    return [NUMBER_WORDS[w] for w in words if w in NUMBER_WORDS and w not in _AMBIGUOUS]


def names_in(text: str) -> set[str]:
    """Names a sentence relies on: capitalised words past its opening word, and acronyms
    or CamelCase anywhere (as the stems `tokenize` makes of them)."""
    names: set[str] = set()
    for match in _CAPITALISED.finditer(text):
        word = match.group(1)
        shaped = any(c.isupper() for c in word[1:]) or any(c.isdigit() for c in word)
        opening = not text[: match.start()].strip(" \t\"'(*_`\u201c")
        if shaped or not opening:
            names.update(tokenize(word))
    for identifier in _IDENTIFIER.findall(text):  # asyncio.gather, hot_standby_feedback
        names.update(tokenize(identifier.replace("_", " ")))
    return names


@dataclass(frozen=True)
class Claim:
    """What a sentence states, as the checker compares it."""

    text: str
    words: frozenset[str]
    figures: tuple[str, ...]  # in digits: these make an uncited sentence a claim
    names: frozenset[str]
    counts: tuple[str, ...] = ()  # spelled out ("seven times"), as digits
    opening: frozenset[str] = frozenset()  # a capitalised first word: a name, or not

    @classmethod
    def of(cls, text: str, *, prose: str | None = None) -> Claim:
        """The claim `text` makes; figures are read from `prose` (the text without its
        code spans, whose numbers are quoted code, not stated figures) when given."""
        prose = text if prose is None else prose
        words, names = frozenset(tokenize(text)), frozenset(names_in(text))
        first = _CAPITALISED.match(text.lstrip(" \t\"'(*_`\u201c"))
        opening = frozenset(tokenize(first.group(1))) if first else frozenset()
        counts = tuple(counts_in(prose))
        return cls(text, words, tuple(figures_in(prose)), names, counts, opening)

    @property
    def all_figures(self) -> tuple[str, ...]:
        return self.figures + self.counts


@dataclass
class Sentence:
    """One sentence of a draft; `masked` has code spans as placeholders."""

    masked: str
    spans: list[str]
    known: set[int]
    table_row: bool = False
    removed: str = ""  # why, once removed
    verdicts: dict[int, bool] = field(default_factory=dict)

    def markers(self) -> Iterator[re.Match]:
        for match in CITATION_MARKER.finditer(self.masked):
            if is_citation(marker_numbers(match.group(1)), known=self.known):
                yield match

    @property
    def cited(self) -> list[int]:
        return list(dict.fromkeys(n for m in self.markers() for n in marker_numbers(m.group(1))))

    def _without_markers(self) -> str:
        text = self.masked
        for match in reversed(list(self.markers())):
            text = text[: match.start()] + text[match.end() :]
        return text

    @property
    def claim(self) -> str:
        """The plain statement: no markers, code as its text, no emphasis marks."""
        text = self._without_markers()
        text = CODE_SPAN.sub(lambda m: m.group(2), unmask_code(text, self.spans))
        return " ".join(_EMPHASIS.sub("", text).split()).replace(" .", ".")

    def to_claim(self) -> Claim:
        prose = _PLACEHOLDER.sub(" ", self._without_markers())
        return Claim.of(self.claim, prose=" ".join(prose.split()))

    @property
    def text(self) -> str:
        """The sentence as written, code restored."""
        return unmask_code(self.masked, self.spans)

    def replace(self, text: str, *, number: int) -> None:
        """Take a rewritten sentence; its only citation is `number`."""
        masked = mask_code(" ".join(text.split()), self.spans)
        plain = CITATION_MARKER.sub("", masked).rstrip()
        end = len(plain.rstrip(".!?"))
        self.masked = f"{plain[:end].rstrip()} [{number}]{plain[end:] or '.'}"
        self.verdicts = {number: True}

    def render(self) -> str:
        if self.removed:
            return ""
        text = self.masked
        for match in reversed(list(self.markers())):
            kept = [n for n in marker_numbers(match.group(1)) if self.verdicts.get(n, False)]
            start = match.start()
            if not kept:
                while start and text[start - 1] in " \t":
                    start -= 1
            marker = f"[{', '.join(map(str, kept))}]" if kept else ""
            text = text[:start] + marker + text[match.end() :]
        return unmask_code(text, self.spans)


@dataclass
class Line:
    """A line kept as written (code, heading, blank) or a prose line of sentences."""

    raw: str
    prefix: str = ""
    sentences: list[Sentence] | None = None

    def render(self) -> str | None:
        if self.sentences is None:
            return self.raw
        body = " ".join(filter(None, (s.render() for s in self.sentences)))
        return f"{self.prefix}{body}" if body.strip() else None


@dataclass
class Draft:
    """One piece of a post (introduction, a section, conclusion) as lines of sentences."""

    key: str
    lines: list[Line]

    def sentences(self) -> Iterator[Sentence]:
        for line in self.lines:
            yield from line.sentences or ()

    def render(self) -> str:
        lines = [text for line in self.lines if (text := line.render()) is not None]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def parse_draft(key: str, text: str, *, known: set[int]) -> Draft:
    """Split a Markdown piece into lines and sentences; code and headings stay verbatim."""
    spans: list[str] = []
    lines: list[Line] = []
    for raw, prose in _logical_lines(text):
        if not prose:
            lines.append(Line(raw))
            continue
        prefix = _PREFIX.match(raw).group(1)  # type: ignore[union-attr]  # _PREFIX matches any string
        masked = mask_code(raw[len(prefix) :], spans)
        masked = _TRAILING.sub(lambda m: _move_markers(m, known), masked)
        row = masked.lstrip().startswith("|")
        pieces = [masked] if row else [s for s in _SENTENCE_END.split(masked) if s.strip()]
        sentences = [Sentence(p.strip(), spans, known, table_row=row) for p in pieces]
        lines.append(Line(raw, prefix, sentences))
    return Draft(key, lines)


def _logical_lines(text: str) -> Iterator[tuple[str, bool]]:
    """(line, is prose): the lines of a paragraph joined into one, code and headings apart."""
    code = code_lines(text)
    paragraph: list[str] = []
    for index, line in enumerate(text.split("\n")):
        verbatim = index in code or not line.strip() or line.lstrip().startswith("#")
        if paragraph and (verbatim or _BLOCK_START.match(line)):
            yield " ".join(paragraph), True
            paragraph = []
        if verbatim:
            yield line, False
        else:
            paragraph.append(line.strip() if paragraph else line.rstrip())
    if paragraph:
        yield " ".join(paragraph), True


def _move_markers(match: re.Match, known: set[int]) -> str:
    """ "claim. [1]" -> "claim [1]." so the citation stays with the sentence it supports."""
    groups = re.findall(r"\[([\d,\s]+)\]", match.group(2))
    if all(is_citation(marker_numbers(g), known=known) for g in groups):
        return f"{match.group(2)}{match.group(1)}"
    return match.group(0)
