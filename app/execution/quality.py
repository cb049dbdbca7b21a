"""The design note's quality heuristic: length 20 %, code 20 %, structure 30 %, citations 30 %, on 0-10."""

from __future__ import annotations

import re

FULL_LENGTH_CHARS = 800
CODE_FENCE = re.compile(r"```")
INLINE_CODE = re.compile(r"`[^`\n]+`")
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\S", re.MULTILINE)
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+\S", re.MULTILINE)
TABLE_ROW = re.compile(r"^\s*\|.+\|\s*$", re.MULTILINE)
URL = re.compile(r"https?://[^\s)>\]]+")
BRACKET_REF = re.compile(r"\[\d{1,3}\]")
SOURCE_WORD = re.compile(r"\b(?:source|sources|according to|reference|references|cited|doi:)\b",
                         re.IGNORECASE)


def length_score(text: str) -> float:
    """0 for nothing, 1 from FULL_LENGTH_CHARS of non-blank text on."""
    return min(len(text.strip()) / FULL_LENGTH_CHARS, 1.0)


def code_score(text: str) -> float:
    """1 for a fenced block, 0.5 for inline code, else 0."""
    if len(CODE_FENCE.findall(text)) >= 2:
        return 1.0
    return 0.5 if INLINE_CODE.search(text) else 0.0


def structure_score(text: str) -> float:
    """Lists, headings, tables and paragraphs, each a third, saturating at 1."""
    features = (
        min(len(LIST_ITEM.findall(text)) / 3, 1.0)
        + (1.0 if HEADING.search(text) else 0.0)
        + (1.0 if len(TABLE_ROW.findall(text)) >= 2 else 0.0)
        + min(text.strip().count("\n\n") / 2, 1.0)
    )
    return min(features / 3, 1.0)


def citation_score(text: str) -> float:
    """URLs, [n] references and source wording; two signals make a full score."""
    signals = len(URL.findall(text)) + len(BRACKET_REF.findall(text)) + len(SOURCE_WORD.findall(text))
    return min(signals / 2, 1.0)


def quality_score(text: str) -> float:
    """0-10, rounded to 2 places."""
    score = (0.2 * length_score(text) + 0.2 * code_score(text)
             + 0.3 * structure_score(text) + 0.3 * citation_score(text))
    return round(10 * score, 2)
