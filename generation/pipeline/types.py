"""What the stages hand each other: one typed output per stage.

topic -> TopicPlan, research -> ResearchResult, outline -> Outline, sections ->
SectionDraft (with the Metadata draft written alongside), citations -> CheckedPost (its
CitationReport), metadata -> Metadata. pipeline/checkpoints.py turns each into the JSON
kept on the run and back; nothing else reads or writes checkpoint JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Source:
    """A kept research source as the writing stages see it: [number] and its text."""

    number: int
    title: str
    url: str
    text: str


@dataclass(frozen=True)
class TopicPlan:
    """The run's subject and the angle that sets it apart from the blog's other posts."""

    topic: str
    angle: str


@dataclass(frozen=True)
class ResearchResult:
    """What research did; the sources themselves are rows (ResearchSource), not here."""

    queries: tuple[str, ...]
    kept: int
    found: int
    rounds: int = 1
    cut: int = 0
    refused: int = 0
    cache_hits: int = 0  # pages reused from the research cache without a request
    revalidated: int = 0  # cached pages a conditional request confirmed (304, no body)


@dataclass(frozen=True)
class SectionPlan:
    heading: str
    key_points: tuple[str, ...]
    sources: tuple[int, ...]  # the source numbers this section may cite


@dataclass(frozen=True)
class Outline:
    title: str
    angle: str
    sections: tuple[SectionPlan, ...]


@dataclass(frozen=True)
class Metadata:
    """Tags, category, excerpt, meta description: the fast model's draft, then cleaned."""

    tags: tuple[str, ...]
    category: str
    excerpt: str
    meta_description: str


@dataclass(frozen=True)
class Framing:
    introduction: str
    conclusion: str


@dataclass(frozen=True)
class SectionDraft:
    """Every piece written in the sections stage: one text per outline section, the
    framing, and the metadata draft (written alongside: it needs no section text) with
    the seconds its call took, booked to the metadata stage."""

    sections: tuple[str, ...]
    framing: Framing
    metadata: Metadata
    metadata_seconds: float = 0.0


@dataclass
class PartialDraft:
    """The pieces an attempt finished before another piece failed: kept for the next."""

    sections: dict[int, str] = field(default_factory=dict)
    framing: Framing | None = None
    metadata: Metadata | None = None
    metadata_seconds: float = 0.0

    @property
    def pieces(self) -> int:
        return len(self.sections) + (self.framing is not None) + (self.metadata is not None)

    def complete(self, count: int) -> SectionDraft | None:
        """The whole draft once every piece of an outline of `count` sections is in."""
        if self.framing is None or self.metadata is None:
            return None
        if any(index not in self.sections for index in range(count)):
            return None
        return SectionDraft(
            sections=tuple(self.sections[index] for index in range(count)),
            framing=self.framing,
            metadata=self.metadata,
            metadata_seconds=self.metadata_seconds,
        )


@dataclass
class CitationReport:
    """What the check found in one post: claims checked, verified, revised, removed."""

    claims: int = 0
    verified: int = 0
    figures: int = 0
    revised: list[dict] = field(default_factory=list)
    removed: list[dict] = field(default_factory=list)
    repeats: list[str] = field(default_factory=list)
    links_removed: int = 0
    judge: dict | None = None
    held: str = ""

    @property
    def kept(self) -> int:
        return self.verified + len(self.revised)

    def removed_share(self) -> float:
        return len(self.removed) / self.claims if self.claims else 0.0


@dataclass(frozen=True)
class CheckedPost:
    """The post's body once every claim was checked, the old numbers of the sources it
    cites (renumbered 1..k in the body), and the report."""

    body: str
    cited: tuple[int, ...]
    report: CitationReport
