"""What the stand-in model "knows": the subjects it suggests when asked for a fresh one,
each with the terms its searches use, the tags and category it proposes, and an angle
(standins/subjects.toml).

Every subject is backed by pages of the bundled corpus (standins/corpus/), so the offline
demo writes a sourced post on each: enough for a first hour (the demo's test asks for 30
posts without a topic). To add subjects of your own, list them in GENERATION_TOPICS and put
pages on them in a folder named by RESEARCH_LOCAL_DIR (README, "Try it without keys").
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

TABLE = Path(__file__).resolve().parent / "subjects.toml"


@dataclass(frozen=True)
class Subject:
    topic: str
    related: tuple[str, ...]  # what its searches add to the topic
    tags: tuple[str, ...]
    category: str
    angle: str


def load(path: Path = TABLE) -> tuple[Subject, ...]:
    entries = tomllib.loads(path.read_text(encoding="utf-8"))["subject"]
    return tuple(
        Subject(e["topic"], tuple(e["related"]), tuple(e["tags"]), e["category"], e["angle"])
        for e in entries
    )


SUBJECTS = load()
BY_TOPIC = {subject.topic.lower(): subject for subject in SUBJECTS}
