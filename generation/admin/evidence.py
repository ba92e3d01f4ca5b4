"""The evidence beside a post on its review screen, read from the run that made it.

Each cited sentence of the post's current body is matched again against the stored text
of the source it cites (the same SourceIndex the citations stage used), so an editor
sees the passage, its matching words marked, and the stage's verdict: verified, or
repaired (with the sentence the model first wrote). Below: the claims the stage removed,
and the sources research fetched but dropped, each with its reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from blog.markdown import CITATION_MARKER, post_body_html
from blog.models import Post
from generation.models import GenerationRun, ResearchSource, Stage

_SOURCE_LINK = re.compile(r'<a href="#source-(\d+)"[^>]*>')
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class ClaimEvidence:
    """One cited sentence and, for each source it cites, the passage that backs it."""

    ident: int
    sentence: str
    verdict: str  # "verified", "repaired" or "not backed now" (edited since the check)
    original: str  # the sentence before its repair, when repaired
    passages: tuple[dict[str, Any], ...]
    links: int  # how many citation links the rendered body shows for it


def post_evidence(post: Post) -> dict[str, Any]:
    """The review screen's context for a post: {} when no run made it."""
    run = GenerationRun.objects.filter(post=post).first()
    if run is None:
        return {}
    report = run.checkpoints.get(Stage.CITATIONS) or {}
    cited: list[int] = list(report.get("cited") or [])
    rows = {s.number: s for s in ResearchSource.objects.filter(run=run, number__in=cited)}
    by_new = {new: rows[old] for new, old in enumerate(cited, start=1) if old in rows}
    claims = _claims(post.body, by_new, repaired=_repairs(report))
    outline = run.checkpoints.get(Stage.OUTLINE) or {}
    return {
        "run": run,
        "outline_sections": [
            (index, section["heading"]) for index, section in enumerate(outline.get("sections", []))
        ],
        "claims": claims,
        "body_html": _linked_body(post_body_html(post), claims),
        "removed_claims": list(report.get("removed") or []),
        "dropped_sources": list(
            ResearchSource.objects.filter(run=run)
            .exclude(status=ResearchSource.Status.KEPT)
            .values("title", "url", "status", "reason")
        ),
    }


def _plain(text: str) -> str:
    return " ".join(_WORD.findall(CITATION_MARKER.sub("", text).lower()))


def _repairs(report: dict) -> dict[str, str]:
    """The repaired sentences as now written (plain), each with what it replaced."""
    return {_plain(r["after"]): r["before"] for r in report.get("revised") or []}


def _claims(
    body: str, sources: dict[int, ResearchSource], *, repaired: dict[str, str]
) -> list[ClaimEvidence]:
    # The citation check (and the research text it tokenizes with) loads trafilatura: the
    # web process imports it when a review screen first opens, not at start-up.
    from generation.pipeline.evidence.citations import SourceIndex
    from generation.pipeline.evidence.claims import parse_draft

    draft = parse_draft("body", body, known=set(sources))
    threshold = settings.GENERATION_CITATION_THRESHOLD
    claims: list[ClaimEvidence] = []
    for sentence in draft.sentences():
        numbers = [n for n in sentence.cited if n in sources]
        if not numbers:
            continue
        claim = sentence.to_claim()
        passages, backed = [], True
        for number in numbers:
            source = sources[number]
            support = SourceIndex(source.text).check(claim, number=number, threshold=threshold)
            backed = backed and support.ok
            passages.append(
                {
                    "number": number,
                    "source": source,
                    "passage": highlight(support.passage, claim.words),
                    "score": round(support.score, 2),
                }
            )
        original = repaired.get(_plain(sentence.claim), "")
        verdict = "repaired" if original else "verified" if backed else "not backed now"
        links = sum(
            1
            for m in CITATION_MARKER.finditer(sentence.text)
            if "," not in m.group(1) and int(m.group(1)) in sources
        )
        ident = len(claims) + 1
        claims.append(
            ClaimEvidence(ident, sentence.claim, verdict, original, tuple(passages), links)
        )
    return claims


def highlight(passage: str, words: frozenset[str]) -> SafeString:
    """The passage, escaped, with every word the claim shares marked."""
    from generation.research import tokenize  # on first use, as in _claims

    out: list[str] = []
    last = 0
    for match in _WORD.finditer(passage):
        stems = tokenize(match.group())
        if stems and stems[0] in words:
            out.append(escape(passage[last : match.start()]))
            out.append(f"<mark>{escape(match.group())}</mark>")
            last = match.end()
    out.append(escape(passage[last:]))
    return mark_safe("".join(out))  # noqa: S308  (every piece escaped above)


def _linked_body(html: str, claims: list[ClaimEvidence]) -> str:
    """The rendered body with each citation link pointing at its claim's passage panel.

    The renderer links each single-number marker in document order; the claims list holds
    the same markers in the same order. When the two disagree (a marker in a table, say)
    the body keeps its links to the sources list and the claims list is the way in."""
    order = [claim.ident for claim in claims for _ in range(claim.links)]
    found = _SOURCE_LINK.findall(html)
    if len(found) != len(order):
        return html
    idents = iter(order)

    def to_claim(match: re.Match) -> str:
        ident = next(idents)
        return (
            f'<a href="#claim-{ident}" class="claim-link" '
            f'aria-label="Claim {ident}: show the passage of source {match.group(1)}">'
        )

    return _SOURCE_LINK.sub(to_claim, html)
