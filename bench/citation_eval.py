#!/usr/bin/env python
"""How well the citation check separates supported claims from the rest (prints figures).

Builds a labelled set of claim/passage pairs from the demo corpus (standins/corpus/, as
the pipeline sees it: rendered to HTML, extracted by trafilatura). Kinds:

- supported: a sentence of the page, cited to it;
- paraphrased-supported: the same with a few words swapped for synonyms and, for long
  sentences, a trailing clause dropped;
- wrong number: a figure changed (a digit, or a number word: "three" -> "seven");
- wrong entity: a product or technology swapped for a sibling (Redis -> Memcached);
- unrelated: a sentence of another page, on another subject, cited to this one;
- fabricated: a claim made up around the page's main name.

The first two are "supported"; the rest must be refused. It prints, at the pipeline's
threshold, the checker's precision on the claims it keeps and its recall of supported
claims; then the same with the judge (GENERATION_CITATION_JUDGE), through the real LLM
client and HTTP against the loopback stand-in judge (standins/writer.py). The stand-in
judge is a deterministic strict reader, not a model: its figures show the plumbing and
what a second check adds, not what a given real model would score.

Usage: .venv/bin/python bench/citation_eval.py [--threshold 0.5] [--show-errors]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SUPPORTED_KINDS = ("supported", "paraphrased-supported")
KINDS = (*SUPPORTED_KINDS, "wrong number", "wrong entity", "unrelated", "fabricated")
PER_KIND = {"supported": 30, "paraphrased-supported": 30}
PER_NEGATIVE_KIND = 25
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
    return pairs


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
    from generation.pipeline.evidence.citations import SourceIndex
    from generation.pipeline.evidence.claims import Claim

    indexes = {n: SourceIndex(text) for n, (_, _, text) in sources.items()}
    return [
        indexes[p.number].check(Claim.of(p.claim), number=p.number, threshold=threshold)
        for p in pairs
    ]


def judged(pairs: list[Pair], supports: list, sources: dict) -> list:
    """The judge's verdict on each pair the lexical check kept (None for the others)."""
    from generation.pipeline.evidence.judge import judge_claims
    from generation.pipeline.llm import LLMClient
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


def scores(pairs: list[Pair], kept: list[bool]) -> tuple[float, float]:
    true_kept = sum(1 for p, k in zip(pairs, kept, strict=True) if k and p.supported)
    precision = true_kept / max(1, sum(kept))
    recall = true_kept / max(1, sum(p.supported for p in pairs))
    return precision, recall


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threshold", type=float, default=None, help="default: the setting")
    parser.add_argument("--show-errors", action="store_true", help="list misjudged pairs")
    args = parser.parse_args(argv)
    configure()
    from django.conf import settings

    threshold = settings.GENERATION_CITATION_THRESHOLD if args.threshold is None else args.threshold
    sources = load_sources()
    pairs = build_pairs(sources)
    supports = lexical(pairs, sources, threshold)
    verdicts = judged(pairs, supports, sources)
    words_only = [s.score >= threshold for s in supports]  # the check before figures and names
    alone = [s.ok for s in supports]
    both = [s.ok and (v is None or v.supported) for s, v in zip(supports, verdicts, strict=True)]
    print(f"\n{len(pairs)} claim/passage pairs, {len(sources)} corpus pages, threshold {threshold}")
    print(f"{'kind':<24}{'pairs':>6}{'words only':>12}{'check':>7}{'check + judge':>15}")
    for kind in KINDS:
        rows = [i for i, p in enumerate(pairs) if p.kind == kind]
        kept = [sum(column[i] for i in rows) for column in (words_only, alone, both)]
        print(f"{kind:<24}{len(rows):>6}{kept[0]:>12}{kept[1]:>7}{kept[2]:>15}")
    print("(claims kept, by kind)")
    for label, kept in (("words only", words_only), ("check", alone), ("check + judge", both)):
        precision, recall = scores(pairs, kept)
        print(f"{label:<14} precision on kept claims {precision:.3f} (target >= 0.95), "
              f"recall of supported claims {recall:.3f} (target >= 0.80)")  # fmt: skip
    if args.show_errors:
        for pair, support, kept, v in zip(pairs, supports, both, verdicts, strict=True):
            if kept != pair.supported:
                why = f"score={support.score} {support.reason!r} judge={v and v.reason!r}"
                print(f"- [{pair.kind}] kept={kept} {why}: {pair.claim}")


if __name__ == "__main__":
    main()
