"""The shrinkage estimate: the prior with no data, the formula by hand, the mean in the limit."""

from __future__ import annotations

import pytest

from app.config.catalog import Catalog, QualityLearning
from app.config.enums import TaskType
from app.feedback.estimates import Observations, build_table, merge, shrink

LEARNING = QualityLearning(prior_weight=20, heuristic_weight=1, feedback_weight=3)


def test_no_observations_is_the_prior() -> None:
    assert shrink(7.2, Observations(), LEARNING) == 7.2


def test_formula_by_hand() -> None:
    obs = Observations(heuristic_n=5, heuristic_sum=5 * 6.0, feedback_n=10, feedback_sum=0.0)
    expected = (7.2 * 20 + 1 * 30.0 + 3 * 0.0) / (20 + 1 * 5 + 3 * 10)
    assert shrink(7.2, obs, LEARNING) == pytest.approx(expected)


def test_k_observations_move_halfway() -> None:
    # 20 heuristic scores of 4.0 weigh as much as the prior of 8.0
    obs = Observations(heuristic_n=20, heuristic_sum=80.0)
    assert shrink(8.0, obs, LEARNING) == pytest.approx(6.0)


def test_many_observations_reach_their_mean() -> None:
    obs = Observations(feedback_n=100_000, feedback_sum=100_000 * 2.5)
    assert shrink(9.0, obs, LEARNING) == pytest.approx(2.5, abs=1e-3)


def test_table_overlays_only_observed_keys(catalog: Catalog) -> None:
    observed: dict[tuple[str, str, TaskType], Observations] = {}
    merge([("deepseek", "deepseek-chat", "chat", 4, 40.0),
           ("deepseek", "deepseek-chat", "no-such-task", 9, 0.0)], feedback=False, into=observed)
    merge([("deepseek", "deepseek-chat", "chat", 2, 0.0)], feedback=True, into=observed)
    table = build_table(catalog, observed)
    prior = next(m for m in catalog.providers["deepseek"].models
                 if m.name == "deepseek-chat").quality[TaskType.CHAT]
    k = catalog.quality_learning.prior_weight
    wh, wf = catalog.quality_learning.heuristic_weight, catalog.quality_learning.feedback_weight
    assert table.overlay == {
        ("deepseek", "deepseek-chat", TaskType.CHAT): pytest.approx(
            (prior * k + wh * 40.0 + wf * 0.0) / (k + wh * 4 + wf * 2))}
    row = next(e for e in table.estimates
               if (e.provider, e.model, e.task) == ("deepseek", "deepseek-chat", TaskType.CHAT))
    assert (row.heuristic_n, row.feedback_n, row.observations) == (4, 2, 6)
    assert row.heuristic_mean == 10.0 and row.feedback_mean == 0.0
    others = [e for e in table.estimates if e is not row]
    assert all(e.estimate == e.prior and e.observations == 0 for e in others)
