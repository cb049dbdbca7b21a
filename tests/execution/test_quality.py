"""The note's quality heuristic: length 20 %, code 20 %, structure 30 %, citations 30 %, on 0-10."""

from __future__ import annotations

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
