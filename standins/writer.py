"""A deterministic "research writer" for the stand-in LLM server.

It answers the pipeline's requests the way a careful model would, from the request alone:
angles that avoid the ones already taken, queries from the topic, an outline over the
quoted sources, and sections made of the sources' own sentences with their [n]
citations (so the citation checker finds them supported). Used by the tests, the
benchmarks and the offline demo; the pipeline does not know it is talking to it.
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

from standins.subjects import BY_TOPIC, SUBJECTS

ANGLES = [
    "a practical guide for engineers",
    "the trade-offs and pitfalls",
    "how it works under the hood",
    "lessons from running it in production",
    "a first introduction for newcomers",
    "measuring what matters",
    "the security angle",
    "where it is heading next",
    "a checklist for teams",
    "common myths, checked against sources",
]
THEMES = [subject.topic for subject in SUBJECTS]
# What a model knows about each theme: the terms its searches would use.
RELATED = {subject.topic.lower(): list(subject.related) for subject in SUBJECTS}
OTHER_ANGLES = ["explained", "internals", "case study", "common mistakes", "comparison"]
SOURCE_BLOCK = re.compile(r'<source id="(\d+)" title="([^"]*)">\n(.*?)\n</source>', re.S)
SENTENCE = re.compile(r"(?<=[.!?])\s+")


class WriterResponder:
    """Classifies a chat request by what it asks for and answers it deterministically."""

    def classify(self, request: dict) -> str:
        schema = (request.get("response_format") or {}).get("json_schema") or {}
        if schema.get("name"):
            return str(schema["name"])
        system = _message(request, "system")
        return "section" if "Write one section" in system else "text"

    def respond(self, request: dict) -> str:
        kind = self.classify(request)
        user = _message(request, "user")
        handler = getattr(self, f"_{kind}", None)
        if handler is None:
            return "A short answer from the stand-in model."
        answer = handler(user)
        return answer if isinstance(answer, str) else json.dumps(answer)

    # --- one method per kind of request ------------------------------------------------

    def _topic_angle(self, user: str) -> dict:
        subject = _field(user, "Subject")
        if subject.startswith("choose a fresh"):
            existing = _field(user, "Existing articles").lower()
            subject = next((t for t in THEMES if t.lower() not in existing), THEMES[0])
        index = int(_search(r"This is article (\d+) of", user, "1")) - 1
        taken = {
            a.strip().lower()
            for a in _field(user, "Angles already taken (do not reuse)").split(";")
        }
        rotated = ANGLES[index % len(ANGLES) :] + ANGLES[: index % len(ANGLES)]
        angle = next((a for a in rotated if a.lower() not in taken), rotated[0])
        return {"topic": subject, "angle": angle}

    def _topic_candidates(self, user: str) -> dict:
        return {"candidates": topic_candidates(user)}

    def _search_queries(self, user: str) -> dict:
        topic, angle = _field(user, "Topic"), _field(user, "Angle")
        return {"queries": first_queries(topic, angle)}

    def _more_search_queries(self, user: str) -> dict:
        return {"queries": other_angle_queries(_field(user, "Topic"), _queries_tried(user))}

    def _outline(self, user: str) -> dict:
        topic, angle = _field(user, "Topic"), _field(user, "Angle")
        wanted = int(_search(r"about (\d+) sections", user, "4"))
        sources = _relevant(_sources(user), topic)
        count = max(2, min(wanted, len(sources)))
        sections, seen = [], set()
        for i in range(count):
            number, title, text = sources[i % len(sources)]
            other = sources[(i + 1) % len(sources)][0]
            heading = _heading(title, seen)
            points = [_words(s, 14) for s in _sentences(text)[:2]] or [heading]
            sections.append({"heading": heading, "key_points": points, "sources": [number, other]})
        title = f"{topic[0].upper()}{topic[1:]}: {angle[0].upper()}{angle[1:]}"
        return {"title": title, "angle": angle, "sections": sections}

    def _section(self, user: str) -> str:
        heading = _field(user, "Section").lower()
        focus = set(_terms(user.split("Sources:")[0].split("Other sections")[0]))
        paragraphs = []
        for number, title, text in _sources(user):
            main = title.lower().startswith(heading.split(" (")[0])
            ranked = sorted(
                (s for s in _sentences(text) if len(s.split()) >= 8),
                key=lambda s: -len(focus & set(_terms(s))),
            )
            picked = ranked[: 4 if main else 1]
            if picked:
                paragraphs.append(" ".join(f"{s.rstrip('.')} [{number}]." for s in picked))
        return "\n\n".join(paragraphs) or "The sources given say little on this point."

    def _framing(self, user: str) -> dict:
        title, angle = _field(user, "Title"), _field(user, "Angle")
        return framing(title, angle, re.findall(r"^- ([^:]+):", user, re.M))

    def _metadata(self, user: str) -> dict:
        title = _field(user, "Title")
        subject = BY_TOPIC.get(title.split(":")[0].strip().lower())
        words = [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9+#-]{3,}", title)]
        existing = [c.strip() for c in _field(user, "Existing categories").split(",") if c.strip()]
        category = subject.category if subject else None
        category = category or next((c for c in existing if c != "(none)"), "Engineering")
        lead = framing(title, _field(user, "Angle"), re.findall(r"^- ([^:]+):", user, re.M))
        first = SENTENCE.split(lead["introduction"])[0]
        return {
            "tags": list(subject.tags) if subject else list(dict.fromkeys(words))[:5],
            "category": category,
            "excerpt": lead["introduction"],
            "meta_description": first[:155],
        }

    # --- the citation stage: repairs and the judge ----------------------------------------

    def _citation_repair(self, user: str) -> dict:
        """Rewrite each failed sentence as the passage sentence closest to it, cited."""
        return {
            "sentences": [
                {"id": ident, "sentence": closest_sentence(sentence, number, passage)}
                for ident, sentence, number, passage in repair_items(user)
            ]
        }

    def _citation_judge(self, user: str) -> dict:
        return {
            "verdicts": [
                {"id": ident, "supported": not (why := judge_claim(claim, passage)), "reason": why}
                for ident, claim, _, passage in judge_items(user)
            ]
        }


_ITEM = re.compile(
    r"^(?:Sentence|Claim) (\d+):\n<outline>\n(.*?)\n</outline>\n(?:Problem: .*?\n)?"
    r'<source id="(\d+)" title="[^"]*">\n(.*?)\n</source>',
    re.M | re.S,
)
_STARTER_TEXT = (
    "the a an this that these those when if in for each every most some many because while "
    "with without typically usually often however unlike like both its it they there such "
    "one to by on at as after before once since although though so and but or not no all "
    "any only also even then thus here what which who how why where more less other "
    "another instead rather over under between during from into through until up out "
    "about again further very can will just should now"
)
_STARTERS = frozenset(_STARTER_TEXT.split())
_NUMBER_TEXT = (
    "one two three four five six seven eight nine ten eleven twelve fifteen twenty thirty "
    "fifty hundred thousand million once twice half"
)
_WORDS_FOR_NUMBERS = frozenset(_NUMBER_TEXT.split())


def repair_items(user: str) -> list[tuple[int, str, int, str]]:
    return [(int(i), s, int(n), p) for i, s, n, p in _ITEM.findall(user)]


judge_items = repair_items


def closest_sentence(sentence: str, number: int, passage: str) -> str:
    """The passage's sentence sharing most words with `sentence`, ending in [number]."""
    wanted = set(_terms(sentence))
    candidates = _sentences(passage) or [passage.strip()]
    best = max(candidates, key=lambda s: len(wanted & set(_terms(s))))
    return f"{best.rstrip('.')} [{number}]." if best else ""


def judge_claim(claim: str, passage: str) -> str:
    """A strict reader's objection to `claim` given `passage`, or "" when it holds: the
    passage sentence closest to the claim must state its figures and names itself."""
    terms = set(_terms(claim))
    sentences = _sentences(passage) or [passage]
    closest = max(sentences, key=lambda s: len(terms & set(_terms(s))))
    if terms and len(terms & set(_terms(closest))) / len(terms) < 0.6:
        return "the passage does not state this"
    text = closest.lower()
    words = set(re.findall(r"[a-z0-9]+", text))
    for figure in re.findall(r"\d+(?:\.\d+)?", claim):
        if figure not in re.findall(r"\d+(?:\.\d+)?", closest):
            return f"the passage does not give {figure}"
    for word in re.findall(r"[a-z]+", claim.lower()):
        if word in _WORDS_FOR_NUMBERS and word not in words:
            return f"the passage does not say {word}"
    for index, name in enumerate(re.findall(r"\b[A-Z][\w+#-]*", claim)):
        parts = re.findall(r"[a-z0-9]+", name.lower())
        if (index or name.lower() not in _STARTERS) and not set(parts) <= words:
            return f"the passage does not mention {name}"
    return ""


# --- topic candidates -------------------------------------------------------------------


def topic_candidates(user: str) -> list[dict[str, str]]:
    """Like a real model asked for fresh subjects: it always puts its favourite first,
    covered or not, and it heeds the blog's list but ignores the batch's."""
    count = int(_search(r"Suggest (\d+) distinct", user, "5"))
    covered = _field(user, "Already covered by the blog").lower()
    fresh = [s for s in SUBJECTS[1:] if s.topic.lower() not in covered]
    return [{"topic": s.topic, "angle": s.angle} for s in [SUBJECTS[0], *fresh][:count]]


# --- introduction and conclusion --------------------------------------------------------

_INTRODUCTIONS = (
    "{Topic} is easy to start with and easy to get wrong. This post walks through {a}, "
    "{b} and {c}, and quotes the pages it relies on so that you can check each step.",
    "Most of what matters about {topic} comes down to a few ideas: {a}, {b} and {c}. "
    "We take them in that order; the angle here is {angle}.",
    "Why does {topic} keep coming up? Because {a} and {b} shape everyday work more than "
    "most teams expect. Here is what the sources say, part by part.",
    "This post on {topic} is about {angle}. It opens with {a}, moves on to {b}, and ends with {c}.",
    "Before you change anything about {topic}, it helps to see how {a} and {b} fit "
    "together. This post lays that out, then turns to {c}.",
)
_CONCLUSIONS = (
    "None of this has to happen at once: start with {a}, measure, and move on only when "
    "the numbers say so.",
    "The common thread is simple. {Topic} rewards teams that measure before they change "
    "anything and read the documentation of the tools they already run.",
    "If one idea stays with you, make it {a}; most of the rest follows from it.",
    "The sources differ on details but not on direction: understand {a} first, then decide "
    "how far {b} is worth taking.",
    "Treat these notes as a map rather than a recipe, and check each step against your own "
    "workload before relying on it.",
)


def framing(title: str, angle: str, headings: list[str]) -> dict[str, str]:
    """An introduction and a conclusion of the post's own (its topic, angle and parts),
    in one of several shapes chosen by the title, as different writers would."""
    topic = title.split(":")[0].strip() or "the subject"
    parts = [h.split(" (")[0] for h in headings] + ["the basics", "the details", "the limits"]
    words = {"topic": _mid_sentence(topic), "Topic": topic[:1].upper() + topic[1:]}
    words |= {"angle": angle or "a close look", "a": parts[0], "b": parts[1], "c": parts[2]}
    pick = zlib.crc32(title.encode())
    return {
        "introduction": _INTRODUCTIONS[pick % len(_INTRODUCTIONS)].format(**words),
        "conclusion": _CONCLUSIONS[(pick // 7) % len(_CONCLUSIONS)].format(**words),
    }


def _mid_sentence(phrase: str) -> str:
    """ "Speculative decoding" -> "speculative decoding"; "PostgreSQL ..." stays."""
    first = phrase.split(" ")[0]
    return phrase[:1].lower() + phrase[1:] if first[1:].islower() else phrase


# --- research queries -----------------------------------------------------------------


def first_queries(topic: str, angle: str) -> list[str]:
    """The plan a careful model makes: the angle, then the theme's main sub-topics."""
    related = RELATED.get(topic.lower(), [])
    generic = [f"{topic} best practices", f"{topic} trade-offs", f"how {topic} works"]
    specific = [f"{topic} {term}" for term in related[:3]]
    return [f"{topic} {angle}"[:120], *(specific or generic)]


def other_angle_queries(topic: str, tried: list[str]) -> list[str]:
    """New queries for a second round: related terms and angles not searched yet."""
    seen = {query.lower() for query in tried}
    candidates = [
        *(f"{topic} {term}" for term in RELATED.get(topic.lower(), [])),
        *(f"{topic} {angle}" for angle in OTHER_ANGLES),
    ]
    return [query for query in candidates if query.lower() not in seen][:4]


def _queries_tried(user: str) -> list[str]:
    tried = user.split("Queries already tried:", 1)[-1]
    return [line[2:].strip() for line in tried.splitlines() if line.startswith("- ")]


def _message(request: dict, role: str) -> str:
    return next(
        (m.get("content") or "" for m in request.get("messages", []) if m.get("role") == role), ""
    )


def _field(text: str, name: str) -> str:
    return _search(rf"^{re.escape(name)}: (.*)$", text, "").strip()


def _search(pattern: str, text: str, default: str) -> str:
    match = re.search(pattern, text, re.M)
    return match.group(1) if match else default


def _sources(user: str) -> list[tuple[int, str, str]]:
    return [(int(n), title, text) for n, title, text in SOURCE_BLOCK.findall(user)]


def _sentences(text: str) -> list[str]:
    """Sentences of the prose lines (headings and other unpunctuated lines left out)."""
    prose = " ".join(line.strip() for line in text.splitlines() if line.strip()[-1:] in '.!?"')
    return [s.strip() for s in SENTENCE.split(prose) if s.strip()]


def _terms(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]{4,}", text.lower())]


def _relevant(sources: list[tuple[int, str, str]], topic: str) -> list[tuple[int, str, str]]:
    """Sources whose title or text shares a word with the topic first, then the others
    (the pipeline already dropped off-topic pages; a section can still use them)."""
    words = set(_terms(topic))
    relevant = [s for s in sources if words & set(_terms(s[1] + " " + s[2][:400]))]
    return relevant + [s for s in sources if s not in relevant]


def _words(text: str, limit: int) -> str:
    return " ".join(text.split()[:limit])


def _heading(title: str, seen: set[str]) -> str:
    base = _words(re.split(r"[|:\-\u2013\u2014]", title)[0], 8).strip() or "Background"
    heading, n = base, 2
    while heading.lower() in seen:
        heading, n = f"{base} ({n})", n + 1
    seen.add(heading.lower())
    return heading


def load(_: Any = None) -> WriterResponder:
    return WriterResponder()
