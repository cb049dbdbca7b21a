"""RouteLLM's metrics on small hand-made cases."""

from __future__ import annotations

import math

import pytest

from app.quality.eval import (
    CurvePoint,
    apgr,
    cpt,
    decile_thresholds,
    evaluate,
    oracle_baseline,
    pgr_curve,
    quantile,
    sampled_random_scores,
)


def test_quantile_is_linear_between_order_statistics() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 10.0]
    assert quantile(values, 0, 10) == 1.0
    assert quantile(values, 10, 10) == 10.0
    assert quantile(values, 1, 2) == 3.0
    assert quantile(values, 1, 4) == 2.0
    assert quantile(values, 9, 10) == pytest.approx(4.0 + 0.6 * 6.0)


def test_an_edge_on_a_value_is_that_value_so_ties_go_strong() -> None:
    # (n - 1) * 0.3 = 3 exactly; floating 0.3 * 10 would land a hair above the value
    values = [0.1 * i for i in range(11)]
    assert quantile(values, 3, 10) == values[3]


def test_decile_thresholds_keep_duplicates() -> None:
    edges = decile_thresholds([5.0] * 8 + [1.0, 9.0])
    # positions 9 * i / 10: 0.9 interpolates 1 -> 5, 1.8 .. 7.2 sit on the eight 5s, 8.1 leaves them
    assert edges == [1.0, 4.6] + [5.0] * 7 + [pytest.approx(5.4), 9.0]


def test_curve_runs_from_all_weak_to_all_strong() -> None:
    scores = [0.9, 0.8, 0.1, 0.2, 0.3]
    strong = [1.0, 1.0, 1.0, 0.0, 1.0]
    weak = [0.0, 1.0, 1.0, 0.0, 0.0]
    curve = pgr_curve(scores, strong, weak)
    assert curve[0].strong_share == 0.0 and curve[0].pgr == 0.0
    assert curve[-1].strong_share == 1.0 and curve[-1].pgr == pytest.approx(1.0)
    assert [p.strong_share for p in curve] == sorted(p.strong_share for p in curve)


def test_a_perfect_ranking_recovers_the_gain_with_the_fewest_strong_calls() -> None:
    # 10 rows, 2 where only the strong model is right; the score ranks exactly those first
    strong = [1.0] * 10
    weak = [0.0, 0.0] + [1.0] * 8
    scores = [1.0, 0.95] + [0.1 * i for i in range(8)]
    m = evaluate("perfect", scores, strong, weak)
    # the 90 % edge sends the top row only: share 0.1 gives PGR 0.5 exactly
    assert m.cpt50 == pytest.approx(0.1)
    assert m.cpt80 == pytest.approx(0.1 + 0.3 * 0.1 / 0.5)
    reverse = evaluate("reversed", [-s for s in scores], strong, weak)
    assert reverse.apgr < 0.5 < m.apgr


def test_cpt_interpolates_and_apgr_is_the_trapezoid_area() -> None:
    curve = [CurvePoint(0, 0.0, 0, 0.0), CurvePoint(0, 0.5, 0, 0.4), CurvePoint(0, 1.0, 0, 1.0)]
    assert cpt(curve, 0.5) == pytest.approx(0.5 + 0.1 * 0.5 / 0.6)
    assert cpt(curve, 0.4) == pytest.approx(0.5)
    assert apgr(curve) == pytest.approx(0.5 * 0.2 + 0.5 * 0.7)


def test_cpt_takes_the_first_crossing_of_a_curve_that_dips() -> None:
    curve = [CurvePoint(0, 0.0, 0, 0.0), CurvePoint(0, 0.2, 0, 0.6), CurvePoint(0, 0.4, 0, 0.3),
             CurvePoint(0, 1.0, 0, 1.0)]
    assert cpt(curve, 0.5) == pytest.approx(0.2 * 0.5 / 0.6)


def test_random_scores_land_near_the_diagonal() -> None:
    n = 4000
    strong = [1.0 if i % 5 else 0.0 for i in range(n)]
    weak = [1.0 if i % 3 == 0 else 0.0 for i in range(n)]
    m = evaluate("random", sampled_random_scores(n, seed=1), strong, weak)
    assert m.apgr == pytest.approx(0.5, abs=0.05)
    assert m.cpt50 == pytest.approx(0.5, abs=0.08)


def test_oracle_needs_only_half_the_net_gain() -> None:
    strong = [1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    weak = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0]
    m = oracle_baseline(strong, weak)
    # net gain (6 - 4) / 8 = 0.25; half of it takes 1 of the 3 rows only strong solves
    assert m.cpt50 == pytest.approx(0.125)
    assert m.apgr > 1.0  # the oracle beats the strong model alone


def test_equal_models_have_no_pgr() -> None:
    with pytest.raises(ValueError, match="undefined"):
        evaluate("x", [0.1, 0.2], [1.0, 0.0], [0.0, 1.0])


def test_nan_free_curve_for_constant_scores() -> None:
    m = evaluate("flat", [0.5] * 6, [1.0] * 6, [0.0, 1.0, 0.0, 1.0, 1.0, 1.0])
    assert not math.isnan(m.apgr)
    assert m.apgr == pytest.approx(0.5)
