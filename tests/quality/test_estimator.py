"""The difficulty estimators: deterministic, in [0, 1], learned from the artifact, rules as fallback."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.quality.estimator import (
    ARTIFACT_PATH,
    DeferredEstimator,
    LearnedEstimator,
    RulesEstimator,
    load_estimator,
)

PROMPTS = [
    "",
    "hi",
    "What is 2 + 2?",
    "Janet has 3 apples and buys twice as many each day for a week. How many hours ... $4.50, 20% off?",
    "Which of the following is NOT a prime?\nA. 2\nB. 3\nC. 9\nD. 11\nAnswer:",
    "Scenario 1 | I took the money. Scenario 2 | I gave it back.\nA. Wrong, Wrong\nB. Not wrong\nAnswer:",
    "日本語のプロンプト ünïcödé " * 50,
    "word " * 5000,
    "9" * 400,
]


@pytest.fixture(scope="module")
def learned() -> LearnedEstimator:
    return LearnedEstimator.from_file(ARTIFACT_PATH)


def test_the_shipped_artifact_loads_as_the_learned_estimator() -> None:
    estimator = load_estimator()
    assert isinstance(estimator, LearnedEstimator)
    assert estimator.name == "learned"
    assert ARTIFACT_PATH.stat().st_size < 2_000_000


@pytest.mark.parametrize("prompt", PROMPTS)
def test_scores_are_probabilities_and_repeatable(learned: LearnedEstimator, prompt: str) -> None:
    for estimator in (learned, RulesEstimator()):
        first = estimator.strong_win_rate(prompt)
        assert 0.0 <= first <= 1.0
        assert estimator.strong_win_rate(prompt) == first


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=3000))
def test_any_text_scores_in_range(learned: LearnedEstimator, text: str) -> None:
    for estimator in (learned, RulesEstimator()):
        assert 0.0 <= estimator.strong_win_rate(text) <= 1.0


def test_a_fresh_load_scores_identically(learned: LearnedEstimator) -> None:
    again = LearnedEstimator.from_file(ARTIFACT_PATH)
    assert [again.strong_win_rate(p) for p in PROMPTS] == [learned.strong_win_rate(p) for p in PROMPTS]


def test_the_win_rate_is_monotone_in_the_score_within_a_domain(learned: LearnedEstimator) -> None:
    prompts = [*PROMPTS, *(f"Tom has {i} apples and gives away {i // 2}. " * (i % 7 + 1) for i in range(30))]
    by_domain: dict[str, list[tuple[float, float]]] = {}
    for p in prompts:
        domain, score = learned.score(p)
        by_domain.setdefault(domain, []).append((score, learned.strong_win_rate(p)))
    assert set(by_domain) == {"choice", "open"}
    for pairs in by_domain.values():
        rates = [r for _, r in sorted(pairs)]
        assert rates == sorted(rates)
    open_rates = {r for _, r in by_domain["open"]}
    assert len(open_rates) > 10  # it discriminates, it is not a constant


def test_a_question_with_answer_options_is_scored_by_the_choice_model(learned: LearnedEstimator) -> None:
    question = "Which gas do plants absorb?"
    options = "\nA. Oxygen\nB. Carbon dioxide\nC. Helium\nD. Argon\nAnswer:"
    assert learned.score(question + options)[0] == "choice"
    assert learned.score(question)[0] == "open"


def test_the_blend_uses_prompt_length_as_the_artifact_says(tmp_path: Path) -> None:
    artifact = json.loads(ARTIFACT_PATH.read_text())
    for block in artifact["domains"].values():
        block["length"][2] = 0.0
    without = tmp_path / "no-length.json"
    without.write_text(json.dumps(artifact))
    for block in artifact["domains"].values():
        block["length"][2] = 5.0
    heavy = tmp_path / "length.json"
    heavy.write_text(json.dumps(artifact))
    short, long = "What is 7 times 8?", "What is 7 times 8? " + "Think about it carefully. " * 40
    a, b = LearnedEstimator.from_file(without), LearnedEstimator.from_file(heavy)
    # with a large length weight the longer prompt scores higher by more than the models alone say
    assert b.score(long)[1] - b.score(short)[1] > a.score(long)[1] - a.score(short)[1] + 1.0


def test_rules_rank_a_long_multi_step_problem_above_a_greeting() -> None:
    rules = RulesEstimator()
    hard = ("A baker makes 3 batches of 24 cookies each day for 2 weeks. He sells half of them at $1.50 "
            "and a third of the rest at $2. After paying 15% tax, how much does he earn per hour if he "
            "works 6 hours a day? Show each step.") * 2
    assert rules.strong_win_rate(hard) > rules.strong_win_rate("hello there")


def test_the_deferred_estimator_reads_the_artifact_once_at_first_use(
    learned: LearnedEstimator, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[Path] = []
    real = LearnedEstimator.from_file

    def counted(path: Path) -> LearnedEstimator:
        reads.append(path)
        return real(path)

    monkeypatch.setattr(LearnedEstimator, "from_file", staticmethod(counted))
    deferred = DeferredEstimator()
    assert reads == []  # nothing read at construction: start-up does not wait for it
    threads = [threading.Thread(target=deferred.load) for _ in range(4)]  # the lifespan and requests
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert reads == [ARTIFACT_PATH]
    assert deferred.name == "learned"
    assert [deferred.strong_win_rate(p) for p in PROMPTS] == [learned.strong_win_rate(p) for p in PROMPTS]
    assert reads == [ARTIFACT_PATH]


def test_a_deferred_estimator_falls_back_to_rules_like_load_estimator(tmp_path: Path) -> None:
    deferred = DeferredEstimator(tmp_path / "absent.json")
    assert deferred.name == "rules"
    assert deferred.strong_win_rate("hi") == RulesEstimator().strong_win_rate("hi")


def test_missing_artifact_falls_back_to_rules(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    estimator = load_estimator(tmp_path / "absent.json")
    assert isinstance(estimator, RulesEstimator)
    assert "rules estimator" in caplog.text


@pytest.mark.parametrize(
    "content",
    ["{not json", json.dumps({"format": 99}), json.dumps({"format": 2, "dense_names": ["x"]}), "[]",
     json.dumps({"format": 1, "dense_names": [], "vocabulary": []})],
)
def test_unusable_artifact_falls_back_to_rules(tmp_path: Path, content: str) -> None:
    path = tmp_path / "estimator.json"
    path.write_text(content)
    assert isinstance(load_estimator(path), RulesEstimator)


def test_truncated_weights_are_refused(tmp_path: Path) -> None:
    artifact = json.loads(ARTIFACT_PATH.read_text())
    block = artifact["domains"]["choice"]
    block["weak_terms"] = block["weak_terms"][:-1]
    path = tmp_path / "estimator.json"
    path.write_text(json.dumps(artifact))
    with pytest.raises(ValueError, match="weights"):
        LearnedEstimator.from_file(path)
    assert isinstance(load_estimator(path), RulesEstimator)


def test_an_artifact_missing_a_domain_is_refused(tmp_path: Path) -> None:
    artifact = json.loads(ARTIFACT_PATH.read_text())
    del artifact["domains"]["open"]
    path = tmp_path / "estimator.json"
    path.write_text(json.dumps(artifact))
    with pytest.raises(ValueError, match="domains"):
        LearnedEstimator.from_file(path)
    assert isinstance(load_estimator(path), RulesEstimator)
