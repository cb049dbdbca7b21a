"""The note's quality heuristic: length 20 %, code 20 %, structure 30 %, citations 30 %, on 0-10."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from app.execution.quality import citation_score, code_score, length_score, quality_score, structure_score


def test_empty_is_zero_and_a_complete_answer_is_ten() -> None:
    assert quality_score("") == 0
    full = (
        "# Answer\n\n" + "Some explanation. " * 50 + "\n\n- one\n- two\n- three\n\n"
        "| a | b |\n|---|---|\n\n```python\nprint(1)\n```\n\nSources: https://example.com [1] [2]\n"
    )
    assert quality_score(full) == 10


def test_each_component_carries_its_weight() -> None:
    long_plain = "word " * 400  # length only
    assert quality_score(long_plain) == 2.0
    assert quality_score("```\nx = 1\n```") == round(10 * (0.2 * length_score("```\nx = 1\n```") + 0.2), 2)
    assert code_score("use `pip install`") == 0.5
    assert citation_score("see https://a.example and https://b.example") == 1.0
    assert structure_score("- a\n- b\n- c") == 1 / 3


@given(st.text(max_size=3000))
def test_always_between_zero_and_ten(text: str) -> None:
    assert 0 <= quality_score(text) <= 10


@given(st.text(max_size=500))
def test_adding_a_cited_source_never_lowers_the_score(text: str) -> None:
    assert quality_score(text + "\n\nSource: https://example.com [1]") >= quality_score(text)


# The scores as plain regex scans, before the cheap pre-checks: the pre-checks must change nothing.
REFERENCE_SOURCE = re.compile(r"\b(?:source|sources|according to|reference|references|cited|doi:)\b",
                              re.IGNORECASE)


def reference_code(text: str) -> float:
    if len(re.findall(r"```", text)) >= 2:
        return 1.0
    return 0.5 if re.search(r"`[^`\n]+`", text) else 0.0


def reference_citation(text: str) -> float:
    signals = (len(re.findall(r"https?://[^\s)>\]]+", text)) + len(re.findall(r"\[\d{1,3}\]", text))
               + len(REFERENCE_SOURCE.findall(text)))
    return min(signals / 2, 1.0)


def reference_structure(text: str) -> float:
    features = (
        min(len(re.findall(r"^\s*(?:[-*+]|\d+[.)])\s+\S", text, re.MULTILINE)) / 3, 1.0)
        + (1.0 if re.search(r"^\s{0,3}#{1,6}\s+\S", text, re.MULTILINE) else 0.0)
        + (1.0 if len(re.findall(r"^\s*\|.+\|\s*$", text, re.MULTILINE)) >= 2 else 0.0)
        + min(text.strip().count("\n\n") / 2, 1.0)
    )
    return min(features / 3, 1.0)


PIECES = ["Source", "SOURCES", "\u017fource", "c\u0130ted", "c\u0131ted", "According To", "doi:", "DOI:",
          "reference", "http://a.b", "https://x.y/z)", "[1]", "[12]", "[x]", "`", "```", "`code`", "#",
          "## h", "|", "| a | b |", "-", "* ", "1.", "2)", " ", "\n", "\n\n", "word", "resources", "sourced"]


@given(st.lists(st.sampled_from(PIECES) | st.text(max_size=8), max_size=40).map("".join))
def test_the_pre_checks_change_no_score(text: str) -> None:
    assert code_score(text) == reference_code(text)
    assert citation_score(text) == reference_citation(text)
    assert structure_score(text) == reference_structure(text)
