#!/usr/bin/env python
"""How well the citation check separates supported claims from the rest (prints figures).

Two corpora, each a labelled set of claim/passage pairs, with its own figures.

The demo corpus (standins/corpus/, as the pipeline sees it: rendered to HTML, extracted
by trafilatura). Kinds:

- supported: a sentence of the page, cited to it;
- paraphrased-supported: the same with a few words swapped for synonyms and, for long
  sentences, a trailing clause dropped;
- wrong number: a figure changed (a digit, or a number word: "three" -> "seven");
- wrong entity: a product or technology swapped for a sibling (Redis -> Memcached);
- unrelated: a sentence of another page, on another subject, cited to this one;
- fabricated: a claim made up around the page's main name;
- negated: "not" inserted after the first auxiliary ("is" -> "is not");
- antonym swapped: "increased" -> "decreased", "before" -> "after", "more" -> "less"...;
- no longer: "no longer" inserted after the first auxiliary ("is" -> "is no longer").

The real-web corpus: pages saved from the web (../shared/realweb/, see its README;
--realweb DIR for another place), extracted by the project's own extraction, claims
drawn with a fixed seed. Kinds: verbatim, trailing clause dropped, two sentences joined
(the next sentence of the page, as a writer merges them) (supported); figure
changed (off by one, or x10), name swapped (a capitalised name from another page),
negated, antonym swapped, no longer, another page (a sentence of another page cited to
this one). When the directory is absent that corpus is skipped, with a message.

The supported kinds are kept by a good check; the rest must be refused. It prints, at the pipeline's
threshold, the checker's precision on the claims it keeps and its recall of supported
claims; then the same with the judge (GENERATION_CITATION_JUDGE), through the real LLM
client and HTTP against the loopback stand-in judge (standins/writer.py). The stand-in
judge is a deterministic strict reader, not a model: its figures show the plumbing and
what a second check adds, not what a given real model would score.

Usage: .venv/bin/python bench/citation_eval.py [--threshold 0.5] [--realweb DIR] [--show-errors]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POLARITY_KINDS = ("negated", "antonym swapped", "no longer")
SUPPORTED_KINDS = (
    "supported", "paraphrased-supported", "verbatim", "trailing clause dropped",
    "two sentences joined",
)  # fmt: skip
KINDS = (
    "supported", "paraphrased-supported", "wrong number", "wrong entity", "unrelated",
    "fabricated", *POLARITY_KINDS,
)  # fmt: skip
REAL_KINDS = (
    "verbatim", "trailing clause dropped", "two sentences joined", "figure changed",
    "name swapped", *POLARITY_KINDS, "another page",
)  # fmt: skip
PER_KIND = {"supported": 30, "paraphrased-supported": 30}
PER_NEGATIVE_KIND = 25
REAL_PER_KIND = {"verbatim": 120}
REAL_PER_OTHER_KIND = 40
REALWEB = ROOT.parent / "shared" / "realweb"
AUXILIARY = re.compile(
    r"\b(is|are|was|were|can|could|will|would|should|may|might|must|has|have|had)\b(?! not\b)"
)
ANTONYMS = [
    ("increase", "decrease"), ("increased", "decreased"), ("increases", "decreases"),
    ("increasing", "decreasing"), ("rise", "fall"), ("rose", "fell"), ("rises", "falls"),
    ("rising", "falling"), ("higher", "lower"), ("highest", "lowest"), ("more", "less"),
    ("before", "after"), ("larger", "smaller"), ("faster", "slower"), ("above", "below"),
    ("better", "worse"), ("earlier", "later"), ("maximum", "minimum"), ("grow", "shrink"),
]  # fmt: skip
SWAP = {a: b for a, b in ANTONYMS} | {b: a for a, b in ANTONYMS}
SYNONYMS = {
    "uses": "relies on", "use": "rely on", "large": "big", "reduces": "cuts",
    "because": "since", "usually": "typically", "quickly": "fast", "many": "numerous",
    "often": "frequently", "must": "has to", "important": "essential", "small": "little",
    "slow": "sluggish", "helps": "aids", "shows": "reveals", "makes": "renders",
    "common": "widespread", "whole": "entire", "start": "begin", "starts": "begins",
    "lets": "allows", "keeps": "retains", "runs": "executes", "cheap": "inexpensive",
}  # fmt: skip
ENTITIES = {
    "Redis": "Memcached", "PostgreSQL": "MySQL", "RQ": "Celery", "Python": "Ruby",
    "asyncio": "Trio", "Django": "Flask", "httpx": "aiohttp", "VACUUM": "ANALYZE",
    "B-tree": "hash", "GPU": "CPU", "SQL": "GraphQL", "HTTP": "FTP", "JavaScript": "Python",
    "pickle": "JSON", "autovacuum": "the checkpointer", "PgBouncer": "Pgpool",
    "TCP": "UDP", "CSRF": "XSS", "SSRF": "CSRF", "Hinton": "LeCun", "SmoothQuant": "GPTQ",
    "Linux": "Windows", "DNS": "DHCP", "GIN": "BRIN", "LLM": "CNN", "Kubernetes": "Nomad",
}  # fmt: skip
NUMBER_WORDS = {
    "two": "five", "three": "seven", "four": "nine", "five": "eight", "ten": "twenty",
    "once": "twice", "twice": "three times", "half": "a third", "fifth": "tenth",
}  # fmt: skip
FABRICATIONS = [
    "{e} was created at Google in 2009 to replace an internal system.",
    "{e} guarantees exactly-once execution without any configuration.",
    "Benchmarks show {e} cutting infrastructure costs by 64% for most teams.",
    "{e} is deprecated and will be removed in the next major release.",
    "Most large companies stopped using {e} in 2021 because of licensing problems.",
]


@dataclass(frozen=True)
class Pair:
    kind: str
    claim: str
    number: int

    @property
    def supported(self) -> bool:
        return self.kind in SUPPORTED_KINDS


def configure() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnop")
    os.environ.setdefault("LOG_DIR", str(ROOT / "logs" / "bench"))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


# The pages the labelled set is drawn from, fixed so that pages added to the demo corpus
# later (for research and the demo) do not reshuffle the set and its recorded figures.
EVAL_PAGES = [
    "llm-batching-kv-cache",
    "llm-distillation",
    "llm-quantization",
    "llm-speculative-decoding",
    "postgres-connection-pooling",
    "postgres-indexes",
    "postgres-query-planning",
    "postgres-vacuum",
    "python-async-concurrency-limits",
    "python-asyncio-basics",
    "python-httpx-async",
    "redis-idempotent-jobs",
    "redis-job-retries",
    "redis-rq-basics",
    "security-csrf",
    "security-ssrf",
    "security-xss",
]


def load_sources() -> dict[int, tuple[str, str, str]]:
    """Number -> (slug, title, text) for every page of the set, extracted as the pipeline
    does."""
    from generation.research.extract import extract
    from generation.research.fetch import FetchedPage
    from standins.web import load_corpus, render_page

    sources = {}
    pages = [page for page in load_corpus() if page.slug in EVAL_PAGES]
    for number, page in enumerate(pages, start=1):
        html = render_page(page).encode()
        text = extract(FetchedPage(f"http://corpus.test/{page.slug}", "text/html", html)).text
        sources[number] = (page.slug, page.title, text)
    return sources


def sentences(text: str) -> list[str]:
    """Prose sentences of 8 to 40 words (headings and fragments left out)."""
    found = []
    for line in text.splitlines():
        for sentence in re.split(r"(?<=[.!?])\s+", line.strip()):
            if 8 <= len(sentence.split()) <= 40 and sentence.endswith("."):
                found.append(sentence)
    return found


def build_pairs(sources: dict[int, tuple[str, str, str]], seed: int = 8) -> list[Pair]:
    rng = random.Random(seed)
    pool = [(n, s) for n, (_, _, text) in sources.items() for s in sentences(text)]
    rng.shuffle(pool)
    pairs = [Pair("supported", s, n) for n, s in pool[: PER_KIND["supported"]]]
    rest = pool[PER_KIND["supported"] :]
    pairs += _take(rest, paraphrase, "paraphrased-supported", PER_KIND["paraphrased-supported"])
    pairs += _take(rest, wrong_number, "wrong number", PER_NEGATIVE_KIND)
    pairs += _take(rest, wrong_entity, "wrong entity", PER_NEGATIVE_KIND)
    pairs += unrelated(sources, pool, rng)
    pairs += fabricated(sources)
    pairs += polarity_pairs(rest, PER_NEGATIVE_KIND)
    return pairs


def polarity_pairs(pool: list[tuple[int, str]], count: int) -> list[Pair]:
    return [
        *_take(pool, negated, "negated", count),
        *_take(pool, antonym_swapped, "antonym swapped", count),
        *_take(pool, no_longer, "no longer", count),
    ]


def _after_auxiliary(sentence: str, words: str) -> str | None:
    found = AUXILIARY.search(sentence)
    if not found:
        return None
    return f"{sentence[: found.end()]} {words}{sentence[found.end() :]}"


def negated(sentence: str) -> str | None:
    """ "is" -> "is not", at the first auxiliary."""
    return _after_auxiliary(sentence, "not")


def no_longer(sentence: str) -> str | None:
    """ "is" -> "is no longer", at the first auxiliary."""
    return _after_auxiliary(sentence, "no longer")


def antonym_swapped(sentence: str) -> str | None:
    """The first word of an antonym pair swapped for the other ("rose" -> "fell")."""
    for found in re.finditer(r"[A-Za-z]+", sentence):
        word = found.group()
        if word.lower() in SWAP:
            other = SWAP[word.lower()]
            other = other.capitalize() if word[0].isupper() else other
            return sentence[: found.start()] + other + sentence[found.end() :]
    return None


def _take(pool: list[tuple[int, str]], make, kind: str, count: int) -> list[Pair]:
    made = []
    for number, sentence in pool:
        claim = make(sentence)
        if claim and claim != sentence:
            made.append(Pair(kind, claim, number))
        if len(made) == count:
            break
    return made


def paraphrase(sentence: str) -> str | None:
    words = sentence.split()
    swaps = [i for i, w in enumerate(words) if w.lower().strip(",;") in SYNONYMS][:2]
    if not swaps:
        return None
    for i in swaps:
        bare = words[i].strip(",;")
        words[i] = words[i].replace(bare, SYNONYMS[bare.lower()])
    text = " ".join(words)
    if len(words) >= 18 and text.rfind(", ") > len(text) // 2:
        text = text[: text.rfind(", ")] + "."  # a long sentence loses its trailing clause
    return text


def wrong_number(sentence: str) -> str | None:
    digits = re.search(r"(?<![\w.])(\d+)(?![\w])", sentence)
    if digits:
        value = int(digits.group(1))
        return sentence[: digits.start()] + str(value * 2 + 3) + sentence[digits.end() :]
    for word, wrong in NUMBER_WORDS.items():
        if re.search(rf"\b{word}\b", sentence):
            return re.sub(rf"\b{word}\b", wrong, sentence, count=1)
    return None


def wrong_entity(sentence: str) -> str | None:
    for name, sibling in ENTITIES.items():
        if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", sentence):
            return re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", sibling, sentence, count=1)
    return None


def unrelated(sources: dict, pool: list[tuple[int, str]], rng: random.Random) -> list[Pair]:
    family = {n: slug.split("-")[0] for n, (slug, _, _) in sources.items()}
    pairs = []
    for number, sentence in pool[::-1]:
        others = [n for n in sources if family[n] != family[number]]
        pairs.append(Pair("unrelated", sentence, rng.choice(others)))
        if len(pairs) == PER_NEGATIVE_KIND:
            break
    return pairs


def fabricated(sources: dict[int, tuple[str, str, str]]) -> list[Pair]:
    pairs = []
    for number, (_, _, text) in sources.items():
        names = Counter(re.findall(r"(?<![\w-])(?:[A-Z][a-z]*[A-Z]\w*|[A-Z]{2,})(?![\w-])", text))
        name = names.most_common(1)[0][0] if names else "It"
        template = FABRICATIONS[number % len(FABRICATIONS)]
        pairs.append(Pair("fabricated", template.format(e=name), number))
        second = FABRICATIONS[(number + 2) % len(FABRICATIONS)]
        pairs.append(Pair("fabricated", second.format(e=name), number))
    return pairs[:PER_NEGATIVE_KIND]


def lexical(pairs: list[Pair], sources: dict, threshold: float) -> list:
    from generation.pipeline.citations import SourceIndex
    from generation.pipeline.claims import Claim

    indexes = {n: SourceIndex(text) for n, (_, _, text) in sources.items()}
    return [
        indexes[p.number].check(Claim.of(p.claim), number=p.number, threshold=threshold)
        for p in pairs
    ]


def judged(pairs: list[Pair], supports: list, sources: dict) -> list:
    """The judge's verdict on each pair the lexical check kept (None for the others)."""
    from generation.llm import LLMClient
    from generation.pipeline.judge import judge_claims
    from standins.llm_server import LLMStandin
    from standins.writer import WriterResponder

    kept = [i for i, s in enumerate(supports) if s.ok]
    items = [
        (f"source:{p.number}", p.claim, (p.number, sources[p.number][1], supports[i].passage))
        for i, p in ((i, pairs[i]) for i in kept)
    ]

    async def main() -> list:
        async with LLMClient(
            api_key="bench", base_url=llm.base_url, model="standin-writer",
            fast_model="standin-fast", concurrency=4, timeout=30, max_retries=0, prices={},
        ) as client:  # fmt: skip
            return await judge_claims(client, items)

    with LLMStandin(WriterResponder()) as llm:
        verdicts = asyncio.run(main())
        calls = llm.counts["citation_judge"]
    print(f"judge: {calls} requests to the stand-in judge for {len(items)} claims")
    answers: list = [None] * len(pairs)  # the judge's Verdict on each pair it saw
    for i, verdict in zip(kept, verdicts, strict=True):
        answers[i] = verdict
    return answers


def load_realweb(directory: Path) -> dict[int, tuple[str, str, str]]:
    """Number -> (file, title, text) for every page of the real-web corpus, extracted by
    the project's own extraction (the charset each page declares)."""
    import json

    from generation.research.extract import extract
    from generation.research.fetch import FetchedPage

    sources: dict[int, tuple[str, str, str]] = {}
    manifest = json.loads((directory / "manifest.json").read_text())
    for entry in sorted(manifest, key=lambda e: e["file"]):
        body = (directory / entry["file"]).read_bytes()
        page = FetchedPage(f"http://realweb.test/{entry['file']}", "text/html", body)
        text = extract(page).text
        if sentences(text):
            sources[len(sources) + 1] = (entry["file"], entry["title"], text)
    return sources


def build_real_pairs(sources: dict[int, tuple[str, str, str]], seed: int = 26) -> list[Pair]:
    rng = random.Random(seed)
    pool = [(n, s) for n, (_, _, text) in sources.items() for s in sentences(text)]
    rng.shuffle(pool)
    verbatim = REAL_PER_KIND["verbatim"]
    pairs = [Pair("verbatim", s, n) for n, s in pool[:verbatim]]
    rest, count = pool[verbatim:], REAL_PER_OTHER_KIND
    pairs += _take(rest, clause_dropped, "trailing clause dropped", count)
    following = {
        (n, first): second
        for n, (_, _, text) in sources.items()
        for first, second in zip(sentences(text), sentences(text)[1:], strict=False)
    }
    pairs += _take_numbered(
        rest, lambda n, s: joined(s, following.get((n, s))), "two sentences joined", count
    )
    pairs += _take(rest, lambda s: figure_changed(s, rng), "figure changed", count)
    names = page_names(sources)
    pairs += _take_numbered(
        rest, lambda n, s: name_swapped(s, n, names, rng), "name swapped", count
    )
    pairs += polarity_pairs(rest, count)
    family = {n: file for n, (file, _, _) in sources.items()}
    for number, sentence in pool[::-1][:count]:
        others = [n for n in sources if family[n] != family[number]]
        pairs.append(Pair("another page", sentence, rng.choice(others)))
    return pairs


def _take_numbered(
    pool: list[tuple[int, str]], make: Callable[[int, str], str | None], kind: str, count: int
) -> list[Pair]:
    made = []
    for number, sentence in pool:
        claim = make(number, sentence)
        if claim and claim != sentence:
            made.append(Pair(kind, claim, number))
        if len(made) == count:
            break
    return made


def clause_dropped(sentence: str) -> str | None:
    """The sentence cut at its last comma past the middle (a trailing clause dropped)."""
    cut = sentence.rfind(", ")
    if cut <= len(sentence) // 2:
        return None
    return sentence[:cut] + "."


def joined(sentence: str, following: str | None) -> str | None:
    """A sentence and the next one of its page as one ("A. B." -> "A; b.")."""
    if not following:
        return None
    return f"{sentence[:-1]}; {following[0].lower()}{following[1:]}"


def figure_changed(sentence: str, rng: random.Random) -> str | None:
    """The first figure off by one, or ten times as large."""
    digits = re.search(r"(?<![\w.,])(\d+)(?![\w.,]\d)", sentence)
    if not digits:
        return None
    value = int(digits.group(1))
    wrong = value * 10 if rng.random() < 0.5 else value + 1
    return sentence[: digits.start()] + str(wrong) + sentence[digits.end() :]


def page_names(sources: dict[int, tuple[str, str, str]]) -> dict[int, list[str]]:
    """Capitalised words past a sentence's first word, per page."""
    names: dict[int, list[str]] = {}
    for number, (_, _, text) in sources.items():
        found = re.findall(r"(?<=[a-z,] )([A-Z][a-z]{3,})\b", text)
        names[number] = sorted(set(found))
    return names


def name_swapped(
    sentence: str, number: int, names: dict[int, list[str]], rng: random.Random
) -> str | None:
    """A capitalised name past the first word swapped for a name from another page that
    this page never uses."""
    found = re.search(r"(?<=[a-z,] )([A-Z][a-z]{3,})\b", sentence)
    if not found:
        return None
    own = set(names[number])
    others = sorted({n for page, each in names.items() if page != number for n in each} - own)
    other = rng.choice(others)
    return sentence[: found.start()] + other + sentence[found.end() :]


def scores(pairs: list[Pair], kept: list[bool]) -> tuple[float, float]:
    true_kept = sum(1 for p, k in zip(pairs, kept, strict=True) if k and p.supported)
    precision = true_kept / max(1, sum(kept))
    recall = true_kept / max(1, sum(p.supported for p in pairs))
    return precision, recall


def report(
    name: str, pairs: list[Pair], sources: dict, kinds: tuple[str, ...], args: argparse.Namespace,
    threshold: float,
) -> None:  # fmt: skip
    """Print one corpus's table: claims kept by kind, then precision and recall."""
    supports = lexical(pairs, sources, threshold)
    verdicts = judged(pairs, supports, sources)
    words_only = [s.score >= threshold for s in supports]  # the check before figures and names
    alone = [s.ok for s in supports]
    both = [s.ok and (v is None or v.supported) for s, v in zip(supports, verdicts, strict=True)]
    print(
        f"\n{name}: {len(pairs)} claim/passage pairs, {len(sources)} pages, threshold {threshold}"
    )
    print(f"{'kind':<24}{'pairs':>6}{'words only':>12}{'check':>7}{'check + judge':>15}")
    for kind in kinds:
        rows = [i for i, p in enumerate(pairs) if p.kind == kind]
        kept = [sum(column[i] for i in rows) for column in (words_only, alone, both)]
        print(f"{kind:<24}{len(rows):>6}{kept[0]:>12}{kept[1]:>7}{kept[2]:>15}")
    print("(claims kept, by kind)")
    for label, column in (("words only", words_only), ("check", alone), ("check + judge", both)):
        precision, recall = scores(pairs, column)
        print(f"{label:<14} precision on kept claims {precision:.3f} (target >= 0.95), "
              f"recall of supported claims {recall:.3f} (target >= 0.90)")  # fmt: skip
    if args.show_errors:
        for pair, support, judged_ok, v in zip(pairs, supports, both, verdicts, strict=True):
            if pair.supported != judged_ok or pair.supported != support.ok:
                why = f"score={support.score} {support.reason!r} judge={v and v.reason!r}"
                print(f"- [{pair.kind}] check={support.ok} judge={judged_ok} {why}: {pair.claim}")
                if args.show_errors > 1:
                    print(f"    passage: {' / '.join(support.passage.splitlines())}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threshold", type=float, default=None, help="default: the setting")
    parser.add_argument(
        "--realweb", type=Path, default=REALWEB, help=f"the real-web pages (default {REALWEB})"
    )
    parser.add_argument(
        "--show-errors", action="count", default=0, help="list misjudged pairs (twice: passages)"
    )
    args = parser.parse_args(argv)
    configure()
    from django.conf import settings

    threshold = settings.GENERATION_CITATION_THRESHOLD if args.threshold is None else args.threshold
    sources = load_sources()
    report("demo corpus", build_pairs(sources), sources, KINDS, args, threshold)
    if not (args.realweb / "manifest.json").is_file():
        print(f"\nreal-web corpus: skipped, no manifest.json in {args.realweb} (--realweb DIR)")
        return
    real = load_realweb(args.realweb)
    report("real-web corpus", build_real_pairs(real), real, REAL_KINDS, args, threshold)


if __name__ == "__main__":
    main()
