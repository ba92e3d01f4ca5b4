"""The one place that turns stage outputs into the JSON kept on a run, and back.

`run.checkpoints` maps each finished stage to its output's JSON; the sections stage may
also leave the pieces it finished under "sections_partial". The JSON shapes are the
ones runs have always been checkpointed with, so a run checkpointed by an older release
resumes after an upgrade; keys added since then (research's rounds, the citation
report's judge and hold, the metadata draft's seconds) have defaults when missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from generation.models import STAGE_ORDER, Stage
from generation.pipeline.types import (
    CheckedPost,
    CitationReport,
    Framing,
    Metadata,
    Outline,
    PartialDraft,
    ResearchResult,
    SectionDraft,
    SectionPlan,
    TopicPlan,
)

PARTIAL = "sections_partial"
_SECTION = "section:"


def section_key(index: int) -> str:
    """The JSON key of a section's text, also the piece's name in the citation report."""
    return f"{_SECTION}{index}"


# --- Each stage's output -----------------------------------------------------------------


def _topic_load(data: dict) -> TopicPlan:
    return TopicPlan(topic=data["topic"], angle=data.get("angle", ""))


def _research_load(data: dict) -> ResearchResult:
    return ResearchResult(
        queries=tuple(data.get("queries", ())),
        kept=data["kept"],
        found=data.get("found", data["kept"]),
        rounds=data.get("rounds", 1),
        cut=data.get("cut", 0),
        refused=data.get("refused", 0),
        cache_hits=data.get("cache_hits", 0),
        revalidated=data.get("revalidated", 0),
    )


def _research_dump(result: ResearchResult) -> dict:
    return {**asdict(result), "queries": list(result.queries)}


def outline_dump(outline: Outline) -> dict:
    return {
        "title": outline.title,
        "angle": outline.angle,
        "sections": [
            {"heading": s.heading, "key_points": list(s.key_points), "sources": list(s.sources)}
            for s in outline.sections
        ],
    }


def section_plan_load(data: dict) -> SectionPlan:
    return SectionPlan(
        heading=data["heading"],
        key_points=tuple(data.get("key_points", ())),
        sources=tuple(data.get("sources", ())),
    )


def _outline_load(data: dict) -> Outline:
    return Outline(
        title=data["title"],
        angle=data.get("angle", ""),
        sections=tuple(section_plan_load(s) for s in data["sections"]),
    )


def metadata_load(data: dict) -> Metadata:
    return Metadata(
        tags=tuple(str(tag) for tag in data.get("tags", ())),
        category=data.get("category", ""),
        excerpt=data.get("excerpt", ""),
        meta_description=data.get("meta_description", ""),
    )


def _metadata_dump(metadata: Metadata) -> dict:
    return {**asdict(metadata), "tags": list(metadata.tags)}


def _partial_load(data: dict) -> PartialDraft:
    sections = {
        int(key[len(_SECTION) :]): text for key, text in data.items() if key.startswith(_SECTION)
    }
    framing = data.get("framing")
    metadata = data.get("metadata")
    return PartialDraft(
        sections=sections,
        framing=Framing(framing["introduction"], framing["conclusion"]) if framing else None,
        metadata=metadata_load(metadata) if metadata else None,
        metadata_seconds=data.get("metadata_seconds", 0.0),
    )


def _partial_dump(partial: PartialDraft) -> dict:
    data: dict[str, Any] = {section_key(i): text for i, text in sorted(partial.sections.items())}
    if partial.framing is not None:
        data["framing"] = asdict(partial.framing)
    if partial.metadata is not None:
        data["metadata"] = _metadata_dump(partial.metadata)
        data["metadata_seconds"] = partial.metadata_seconds
    return data


def _draft_load(data: dict) -> SectionDraft:
    partial = _partial_load(data)
    # Saved only once the sections stage has both (sections.py makes them first).
    assert partial.framing is not None and partial.metadata is not None
    return SectionDraft(
        sections=tuple(partial.sections[i] for i in sorted(partial.sections)),
        framing=partial.framing,
        metadata=partial.metadata,
        metadata_seconds=partial.metadata_seconds,
    )


def _draft_dump(draft: SectionDraft) -> dict:
    return _partial_dump(
        PartialDraft(
            sections=dict(enumerate(draft.sections)),
            framing=draft.framing,
            metadata=draft.metadata,
            metadata_seconds=draft.metadata_seconds,
        )
    )


REPORT_FIELDS = ("claims", "verified", "revised", "removed", "figures", "repeats")


def report_dump(report: CitationReport) -> dict:
    return {
        **{name: getattr(report, name) for name in REPORT_FIELDS},
        "links_removed": report.links_removed,
        "judge": report.judge,
        "held": report.held,
    }


def _report_load(data: dict) -> CitationReport:
    return CitationReport(
        claims=data.get("claims", 0),
        verified=data.get("verified", 0),
        figures=data.get("figures", 0),
        revised=list(data.get("revised", [])),
        removed=list(data.get("removed", [])),
        repeats=list(data.get("repeats", [])),
        links_removed=data.get("links_removed", 0),
        judge=data.get("judge"),
        held=data.get("held", ""),
    )


def _checked_load(data: dict) -> CheckedPost:
    return CheckedPost(body=data["body"], cited=tuple(data["cited"]), report=_report_load(data))


def _checked_dump(checked: CheckedPost) -> dict:
    return {"body": checked.body, "cited": list(checked.cited), **report_dump(checked.report)}


Codec = tuple[Callable[[dict], Any], Callable[[Any], dict]]
CODECS: dict[str, Codec] = {
    Stage.TOPIC: (_topic_load, asdict),
    Stage.RESEARCH: (_research_load, _research_dump),
    Stage.OUTLINE: (_outline_load, outline_dump),
    Stage.SECTIONS: (_draft_load, _draft_dump),
    Stage.CITATIONS: (_checked_load, _checked_dump),
    Stage.METADATA: (metadata_load, _metadata_dump),
}


# --- The run's checkpoints ---------------------------------------------------------------


def finished(checkpoints: dict, stage: str) -> bool:
    return stage in checkpoints


def read(checkpoints: dict, stage: str) -> Any:
    """The typed output of a finished stage (KeyError when it has not finished)."""
    load, _ = CODECS[stage]
    return load(checkpoints[stage])


def written(checkpoints: dict, stage: str, output: Any) -> dict:
    """The checkpoints with `stage`'s output added (and any partial output of it gone)."""
    _, dump = CODECS[stage]
    kept = dict(checkpoints)
    if stage == Stage.SECTIONS:
        kept.pop(PARTIAL, None)
    return {**kept, stage: dump(output)}


def read_partial(checkpoints: dict) -> PartialDraft:
    """What an earlier attempt of the sections stage finished (nothing: an empty draft)."""
    return _partial_load(checkpoints.get(PARTIAL) or {})


def with_partial(checkpoints: dict, partial: PartialDraft) -> dict:
    return {**checkpoints, PARTIAL: _partial_dump(partial)}


# --- Readers for everyone outside the pipeline (the admin, the commands, retry) ---------


def citation_report(checkpoints: dict | None) -> CitationReport | None:
    """The citation check's report of a run; None until the citations stage finished."""
    data = (checkpoints or {}).get(Stage.CITATIONS)
    return _report_load(data) if data else None


def sources_kept(checkpoints: dict | None) -> int | None:
    """How many usable sources research kept; None until the research stage finished."""
    data = (checkpoints or {}).get(Stage.RESEARCH)
    return _research_load(data).kept if data else None


def stage_of(key: str) -> str:
    """The stage a checkpoint key belongs to: its name, or its partial output's
    ("sections_partial" belongs to the sections stage)."""
    return Stage.SECTIONS if key == PARTIAL else key


def kept_for_retry(checkpoints: dict, restart: str | None) -> dict:
    """The checkpoints a retry resumes from: all of them, unless it must redo `restart`,
    in which case that stage's output and every later stage's go (partial ones too)."""
    if restart not in STAGE_ORDER:
        return checkpoints
    redo = set(STAGE_ORDER[STAGE_ORDER.index(restart) :])
    return {key: value for key, value in checkpoints.items() if stage_of(key) not in redo}
