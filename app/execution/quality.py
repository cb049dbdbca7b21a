"""The design note's quality heuristic: length 20 %, code 20 %, structure 30 %, citations 30 %, on 0-10."""

from __future__ import annotations

import re

FULL_LENGTH_CHARS = 800
INLINE_CODE = re.compile(r"`[^`\n]+`")
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\S", re.MULTILINE)
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+\S", re.MULTILINE)
TABLE_ROW = re.compile(r"^\s*\|.+\|\s*$", re.MULTILINE)
URL = re.compile(r"https?://[^\s)>\]]+")
BRACKET_REF = re.compile(r"\[\d{1,3}\]")
SOURCE_WORD = re.compile(r"\b(?:source|sources|according to|reference|references|cited|doi:)\b",
                         re.IGNORECASE)
# Cheap tests that must pass before a pattern can match, so most answers skip the slow scans
# (a 2 KB answer took ~150 us): what SOURCE_WORD can match, lowercased, contains one of these
# words, unless the text holds a letter that regex case folding matches to an ASCII one
# (U+0130, U+0131, U+017F).
SOURCE_STEMS = ("source", "according to", "reference", "cited", "doi:")
ODD_CASE_FOLDS = ("\u0130", "\u0131", "\u017f")


def length_score(text: str) -> float:
    """0 for nothing, 1 from FULL_LENGTH_CHARS of non-blank text on."""
    return min(len(text.strip()) / FULL_LENGTH_CHARS, 1.0)


def code_score(text: str) -> float:
    """1 for a fenced block, 0.5 for inline code, else 0."""
    if text.count("```") >= 2:
        return 1.0
    return 0.5 if "`" in text and INLINE_CODE.search(text) else 0.0


def structure_score(text: str) -> float:
    """Lists, headings, tables and paragraphs, each a third, saturating at 1."""
    features = (
        min(len(LIST_ITEM.findall(text)) / 3, 1.0)
        + (1.0 if "#" in text and HEADING.search(text) else 0.0)
        + (1.0 if "|" in text and len(TABLE_ROW.findall(text)) >= 2 else 0.0)
        + min(text.strip().count("\n\n") / 2, 1.0)
    )
    return min(features / 3, 1.0)


def citation_score(text: str) -> float:
    """URLs, [n] references and source wording; two signals make a full score."""
    signals = 0
    if "http" in text:
        signals += len(URL.findall(text))
    if "[" in text:
        signals += len(BRACKET_REF.findall(text))
    if may_name_a_source(text):
        signals += len(SOURCE_WORD.findall(text))
    return min(signals / 2, 1.0)


def may_name_a_source(text: str) -> bool:
    """False only when SOURCE_WORD cannot match."""
    if any(ch in text for ch in ODD_CASE_FOLDS):
        return True
    lowered = text.lower()
    return any(stem in lowered for stem in SOURCE_STEMS)


def quality_score(text: str) -> float:
    """0-10, rounded to 2 places."""
    score = (0.2 * length_score(text) + 0.2 * code_score(text)
             + 0.3 * structure_score(text) + 0.3 * citation_score(text))
    return round(10 * score, 2)
