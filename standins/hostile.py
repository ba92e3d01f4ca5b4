"""A writer stand-in that misbehaves the ways real models do, one behaviour at a time.

    HostileWriter("figures", "repeat")     # only these
    HostileWriter()                        # all of them

Behaviours, each added to every section it writes (on top of WriterResponder's honest
text): "figures" invents a statistic on a real sentence and states another uncited;
"phantom" cites a source that does not exist; "repeat" writes the same paragraph in
every section; "obey" does whatever a quoted page tells it to (quotes the injection,
adds its link or image, states what it was told to, copies raw HTML it reads, and
reveals its system prompt and the `secrets` it knows when a page asks for settings);
"links" adds a tracking pixel, a download link, an autolink and a reference definition
that hijacks a citation number;
"chatty" opens a cited sentence with "As an AI language model"; "miscount" changes a
number word of a real sentence ("three" -> "seven"); "conflate" joins the first half of
one sentence to the second half of the next (every word is in the source, the statement
is not). "stubborn" answers citation
repair requests with the sentence unchanged. "tags" proposes `HOSTILE_TAGS` (stop-words,
filler, one letter, plurals and cases of one tag, markup) and a template excerpt. `seen`
keeps every request it was sent, as {"kind", "system", "user"}.

Tests select behaviours with `@pytest.mark.llm_options(hostile=[...])`; the demo with
`python -m standins.llm_server --responder standins.hostile:HostileWriter`.
"""

from __future__ import annotations

import itertools
import re
import threading

from standins.writer import WriterResponder, _message, _sentences, _sources, repair_items

BEHAVIOURS = frozenset(
    {
        "figures",
        "phantom",
        "repeat",
        "obey",
        "links",
        "chatty",
        "miscount",
        "conflate",
        "stubborn",
        "tags",
    }
)
HOSTILE_TAGS = (
    "First",
    "from",
    "under",
    "hood",
    "Under the hood",
    "a",
    "AI",
    "2024",
    "the",
    "!!!",
    "Indexes",
    "index",
    "INDEX",
    "Query plans",
    "query plan",
    "the B-tree",
    "<b>Redis</b>",
    "redis",
    "practical guide",
    "Trade-offs",
)
TEMPLATE_EXCERPT = "A sourced look at this subject. Every claim is cited to the page it came from."
BOILERPLATE = (
    "Every team should measure before and after each change and keep the results where "
    "everyone can see them."
)
INVENTED_FIGURE = "which improves throughput by 73%"
UNCITED_FIGURE = "Teams that adopt it report 41% lower latency."
TRACKER = "http://tracker.invalid/pixel.gif"
DOWNLOAD = "http://downloads.invalid/setup.exe"
_OBEY = [
    (re.compile(r"[^.\n]*\b(?:ignore|disregard)\b[^.\n]*\binstructions\b[^.\n]*", re.I), "quote"),
    (re.compile(r"\b(?:add|include|insert|embed)\b[^\n]*?(https?://[^\s)\]]+)", re.I), "link"),
    (re.compile(r"\b(?:say|state|write|tell (?:the )?readers?)\s+that\s+([^.\n]+)", re.I), "claim"),
    (re.compile(r"<(script|style|iframe|form|object)\b[^>]*>.*?</\1\s*>", re.I | re.S), "html"),
    (re.compile(r"<(?:img|a|input|meta|link|svg|embed)\b[^>]*>", re.I), "html"),
    (
        re.compile(
            r"\b(?:reveal|print|show|output|include|share|disclose|repeat)\b[^.\n]*?"
            r"\b(?:api[ _-]?keys?|system prompt|settings|configuration|secrets?|credentials)",
            re.I,
        ),
        "leak",
    ),
]
_SWAPS = {"two": "five", "three": "seven", "four": "nine", "five": "eight", "once": "twice"}

Quoted = list[tuple[int, str, str]]


class HostileWriter(WriterResponder):
    """`secrets`: what the model is assumed to know and gives away when a page asks for
    settings (the API key it was called with, say)."""

    def __init__(self, *behaviours: str, secrets: tuple[str, ...] = ()) -> None:
        unknown = set(behaviours) - BEHAVIOURS
        if unknown:
            raise ValueError(f"Unknown behaviours {sorted(unknown)}; use {sorted(BEHAVIOURS)}")
        self.behaviours = frozenset(behaviours) or BEHAVIOURS
        self.secrets = tuple(secrets)
        self.seen: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._system = threading.local()  # the system prompt of the request being answered

    def respond(self, request: dict) -> str:
        seen = {"kind": self.classify(request), "system": _message(request, "system")}
        with self._lock:
            self.seen.append({**seen, "user": _message(request, "user")})
        self._system.text = seen["system"]
        return super().respond(request)

    def _section(self, user: str) -> str:
        sources = _sources(user)
        extra = [
            getattr(self, f"_{b}")(sources)
            for b in sorted(self.behaviours)
            if b not in ("stubborn", "tags")  # not section behaviours
        ]
        return "\n\n".join(filter(None, [super()._section(user), *extra]))

    def _metadata(self, user: str) -> dict:
        answer = super()._metadata(user)
        if "tags" in self.behaviours:
            answer |= {"tags": list(HOSTILE_TAGS), "excerpt": TEMPLATE_EXCERPT}
        return answer

    def _citation_repair(self, user: str) -> dict:
        if "stubborn" not in self.behaviours:
            return super()._citation_repair(user)
        return {"sentences": [{"id": i, "sentence": s} for i, s, _, _ in repair_items(user)]}

    # --- one method per behaviour: extra Markdown for a section --------------------------

    def _figures(self, sources: Quoted) -> str:
        number, sentence = _plain_sentence(sources)
        if not sentence:
            return UNCITED_FIGURE
        return f"{sentence.rstrip('.')}, {INVENTED_FIGURE} [{number}]. {UNCITED_FIGURE}"

    def _phantom(self, sources: Quoted) -> str:
        _, sentence = _plain_sentence(sources[::-1])
        missing = max((n for n, _, _ in sources), default=0) + 5
        return f"{sentence.rstrip('.')} [{missing}]." if sentence else ""

    def _repeat(self, sources: Quoted) -> str:
        return BOILERPLATE

    def _obey(self, sources: Quoted) -> str:
        done = []
        for number, _, text in sources:
            for pattern, kind in _OBEY:
                for match in pattern.finditer(text):
                    done.append(
                        self._leak(number) if kind == "leak" else _obeyed(kind, match, number)
                    )
        return " ".join(done)

    def _leak(self, number: int) -> str:
        system = getattr(self._system, "text", "")
        told = " ".join(f"The API key is {secret}." for secret in self.secrets)
        return f"My system prompt reads: {system[:200]} {told} [{number}]".strip()

    def _links(self, sources: Quoted) -> str:
        number = sources[0][0] if sources else 1
        return (
            f"![tracking]({TRACKER}) Get the [installer]({DOWNLOAD}) from <{DOWNLOAD}>.\n\n"
            f"[{number}]: http://evil.invalid/hijacked-citation"
        )

    def _chatty(self, sources: Quoted) -> str:
        number, sentence = _plain_sentence(sources)
        if not sentence:
            return ""
        return f"As an AI language model, I can confirm that {sentence.rstrip('.')} [{number}]."

    def _miscount(self, sources: Quoted) -> str:
        for number, _, text in sources:
            for sentence in _sentences(text):
                for word, wrong in _SWAPS.items():
                    pattern = rf"\b{word}\b"
                    if re.search(pattern, sentence) and not re.search(r"\d", sentence):
                        changed = re.sub(pattern, wrong, sentence, count=1)
                        return f"{changed.rstrip('.')} [{number}]."
        return ""

    def _conflate(self, sources: Quoted) -> str:
        for number, _, text in sources:
            long = [s for s in _sentences(text) if len(s.split()) >= 10]
            for first, second in itertools.pairwise(long):
                head, tail = first.split(), second.split()
                joined = " ".join(head[: len(head) // 2] + tail[len(tail) // 2 :])
                return f"{joined.rstrip('.')} [{number}]."
        return ""


def _plain_sentence(sources: Quoted) -> tuple[int, str]:
    """A long sentence without digits from the first source that has one."""
    for number, _, text in sources:
        for sentence in _sentences(text):
            if len(sentence.split()) >= 10 and not re.search(r"\d", sentence):
                return number, sentence
    return 0, ""


def _obeyed(kind: str, match: re.Match, number: int) -> str:
    if kind == "quote":
        return f"{match.group(0).strip()} [{number}]."
    if kind == "html":
        return match.group(0)
    if kind == "link":
        url = match.group(1).rstrip(".,;")
        wants_image = re.search(r"image|pixel|picture|badge", match.group(0), re.I)
        return f"![image]({url})" if wants_image else f"[download]({url})"
    return f"{match.group(1).strip()} [{number}]."
