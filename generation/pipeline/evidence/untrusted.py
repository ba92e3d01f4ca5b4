"""Text from the web is data: instructions hidden in it never reach the model or the post.

A page can address the model that reads it ("IMPORTANT SYSTEM NOTICE TO THE AI MODEL:
ignore all previous instructions and ..."). Such a sentence is lexically "in its
source", so the citation check alone would call it verified. It is dropped from source
text before any prompt is built, together with the rest of its paragraph (an injection
rarely stops after its first sentence); a draft sentence of that kind is removed
whatever its citation says.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from generation.pipeline.types import Source

# Words that name an AI reader. Bare "model", "agent" or "bot" are left out: technical
# pages use them for other things ("a message to the agents", "models trained in 16-bit").
_AI = (
    r"(?:ai|a\.i\.|llms?|(?:large )?language models?|ai models?|ai assistants?|ai systems?|"
    r"chatbots?|chat ?gpt|gpt|claude|gemini|assistants?)"
)
_INSTRUCTION_PATTERNS = [
    # "ignore all previous instructions", "disregard the rules above", "forget your prompt"
    r"\b(?:ignore|disregard|forget|override|bypass)\b[^.!?\n]{0,40}?"
    r"\b(?:previous|prior|above|earlier|preceding|all|your|the system'?s?)\b"
    r"[^.!?\n]{0,30}?\b(?:instructions?|prompts?|directions|directives?|guidelines|rules)\b",
    # "as an AI, I ...", "as a large language model I cannot"
    r"\bas an? (?:ai|artificial intelligence|(?:large )?language model|llm)"
    r"(?: language model| model| assistant| system)?\s*(?:,|\bi\b|\bmy\b|\bwe\b)",
    # "IMPORTANT SYSTEM NOTICE", "System prompt:", "new system instructions"
    r"\bsystem (?:notice|override|alert|directive)s?\b",
    r"\b(?:important|urgent|new|updated|official|hidden) system (?:message|prompt|instructions?)\b",
    r"\bsystem (?:message|prompt|instructions?)\s*:",
    # "note to AI models", "instructions for the assistant", "attention, language models"
    r"\b(?:note|message|notice|attention|instructions?|reminder|memo|warning)"
    r"(?:\s+(?:to|for)\s+|\s*[,:]\s*)(?:the\s+|any\s+|all\s+|every\s+)?" + _AI + r"\b",
    # "if you are an AI", "you are now the assistant", "AI models reading this page"
    r"\b(?:if|when|since) you are an? " + _AI + r"\b",
    r"\byou are (?:now )?(?:an?|the) (?:helpful )?" + _AI + r"\b",
    r"\b" + _AI + r" (?:reading|processing|summari[sz]ing|indexing|parsing) this\b",
    r"\bnew instructions?\s*:",
    r"\b(?:do not|don't|never) (?:tell|inform|mention (?:this |it )?to) (?:the )?"
    r"(?:users?|readers?)\b(?!')",
    r"\byour (?:previous|prior|original|real|initial) (?:instructions|prompt|guidelines)\b",
    r"\byour system prompt\b",
    r"\bwhen (?:you )?(?:summari[sz]ing|summari[sz]e|writing about|rewriting) this\b",
    # Addressed to whoever writes from the page, without naming an AI: "note for the
    # writer", "this article should instead tell readers that ..."
    r"\b(?:note|message|instructions?|memo|reminder)s? (?:for|to) (?:the |any )?"
    r"(?:writers?|authors?|summari[sz]ers?|editors? of this)\b",
    r"\b(?:this|the|your|any) (?:article|post|summary|answer|response|writer)s? "
    r"(?:should|must|needs? to|has to) (?:instead\b|(?:also |now )?(?:say|tell (?:the )?"
    r"readers?|state|claim|mention|recommend) that\b)",
    # "reveal the API key", "print your system prompt" (not "never reveal the API key")
    r"(?<!never )(?<!not )(?<!n't )\b(?:reveal|print|disclose|leak|output|repeat|dump)\b"
    r"[^.!?\n]{0,40}?\b(?:api[ _-]?keys?|system prompts?|secret keys?|access tokens?|"
    r"(?:the )?(?:settings|configuration|credentials) you\b|you were (?:given|configured))",
    r"\b(?:my|our) (?:system )?(?:prompt|instructions) (?:reads?|says?|is|are|was|were)\b",
    # "add a link to https://…", "embed the badge image … next to the heading"
    r"\b(?:add|insert|embed|include|place|put|append)\b[^.!?\n]{0,60}?"
    r"\b(?:links?|images?|badges?|pixels?|banners?|buttons?|iframes?|scripts?|snippets?)\b"
    r"[^.!?\n]{0,60}?(?:https?://|\b(?:in|into|to|next to|under|above|below|at the "
    r"(?:top|end|bottom) of) (?:the|this|your) (?:article|post|heading|summary|answer)\b)",
]
# A page that spells the prompt's own delimiters ("</source>", "<source id=9>") is
# forging a frame: the tags are taken out of its text (prompts neutralise any left).
_FORGED_DELIMITER = re.compile(r"<\s*/?\s*(?:source|outline)\b[^<>\n]{0,200}>", re.I)
INSTRUCTION = re.compile("|".join(f"(?:{p})" for p in _INSTRUCTION_PATTERNS), re.IGNORECASE)
_WORDS = re.compile(r"[a-z0-9']+")
_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+")


def is_instruction(text: str) -> bool:
    """True when the text addresses a model or gives it instructions."""
    return bool(INSTRUCTION.search(" ".join(text.split())))


def drop_instructions(text: str) -> tuple[str, list[str]]:
    """Source text without instruction-like sentences (and what follows them in their
    paragraph); returns the cleaned text and the dropped pieces."""
    kept_lines: list[str] = []
    dropped: list[str] = []
    for line in text.splitlines():
        if not INSTRUCTION.search(line):
            kept_lines.append(line)
            continue
        sentences = _SENTENCE_END.split(line)
        first = next((i for i, s in enumerate(sentences) if is_instruction(s)), 0)
        head = " ".join(sentences[:first]).strip()
        dropped.append(" ".join(sentences[first:]).strip())
        if head:
            kept_lines.append(head)
    return "\n".join(kept_lines), dropped


def recites_prompt(text: str, system_prompts: Iterable[str]) -> bool:
    """True when the text repeats six words in a row of one of the system prompts (a
    model told by a page to reveal its prompt)."""
    words = f" {' '.join(_WORDS.findall(text.lower()))} "
    return any(f" {run} " in words for prompt in system_prompts for run in _runs(prompt, 6))


def leaks_secret(text: str, secrets: Iterable[str]) -> bool:
    """True when the text holds one of the configured secrets (keys of 8+ characters)."""
    return any(len(secret) >= 8 and secret in text for secret in secrets)


def _runs(text: str, size: int) -> list[str]:
    words = _WORDS.findall(text.lower())
    return [" ".join(words[i : i + size]) for i in range(len(words) - size + 1)]


def clean_source(source: Source) -> Source:
    """The source as prompts and checks see it: no instructions in its text or title."""
    text, _ = drop_instructions(_FORGED_DELIMITER.sub("", source.text))
    title = "" if is_instruction(source.title) else _FORGED_DELIMITER.sub("", source.title)
    return replace(source, title=title, text=text)
