"""Plain data passed between stages (checkpoints hold their dict forms)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """A kept research source as the writing stages see it: [number] and its text."""

    number: int
    title: str
    url: str
    text: str


Section = dict  # {"heading": str, "key_points": [str], "sources": [int]}
