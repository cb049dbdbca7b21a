"""RouteLLM's router metrics: the PGR curve over a decile threshold sweep, CPT(x %) and APGR.

Reproduces lm-sys/RouteLLM `evals/benchmarks.py` + `evals/evaluate.py`: thresholds are the
11 decile edges of the scores (pandas `qcut`, i.e. numpy's linear quantiles, duplicates kept);
every row scoring >= the threshold goes to the strong model (> for the last edge, so the sweep
ends at 0 % strong); CPT is interpolated linearly on the curve sorted by strong share; APGR is
the trapezoid area under PGR over the share of strong calls.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

DECILES = 10


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """One threshold of the sweep: share of strong calls, resulting accuracy and its PGR."""

    threshold: float
    strong_share: float
    quality: float
    pgr: float


@dataclass(frozen=True, slots=True)
class RouterMetrics:
    """CPT(50 %), CPT(80 %) (shares of strong calls, 0 to 1) and APGR of one router on one data set."""

    name: str
    cpt50: float
    cpt80: float
    apgr: float
    curve: tuple[CurvePoint, ...] = ()

    def as_dict(self) -> dict[str, float | str]:
        """The figures without the curve, for JSON output."""
        return {"router": self.name, "cpt50": self.cpt50, "cpt80": self.cpt80, "apgr": self.apgr}


def quantile(sorted_values: Sequence[float], numerator: int, denominator: int) -> float:
    """The (numerator / denominator) quantile of ascending values, numpy's default linear method.

    The position (n - 1) * q is computed in integers, so an edge that falls exactly on a value is
    that value (floating q can land one ulp above it and silently drop the tied rows).
    """
    n = len(sorted_values)
    if n == 0:
        raise ValueError("quantile of no values")
    if not 0 <= numerator <= denominator:
        raise ValueError("quantile outside [0, 1]")
    lo, rest = divmod((n - 1) * numerator, denominator)
    if rest == 0:
        return sorted_values[lo]
    t = rest / denominator
    a, b = sorted_values[lo], sorted_values[lo + 1]
    diff = b - a
    # like numpy, interpolate from the nearer end, which keeps the result inside [a, b]
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


def decile_thresholds(scores: Sequence[float], bins: int = DECILES) -> list[float]:
    """The bins + 1 quantile edges of the scores, duplicates kept (each is one point of the sweep)."""
    ordered = sorted(scores)
    return [quantile(ordered, i, bins) for i in range(bins + 1)]


def _accuracies(strong: Sequence[float], weak: Sequence[float]) -> tuple[float, float]:
    if not strong or len(strong) != len(weak):
        raise ValueError("strong and weak outcomes must be non-empty and of equal length")
    s, w = sum(strong) / len(strong), sum(weak) / len(weak)
    if s == w:
        raise ValueError("PGR is undefined: the strong and weak models score the same")
    return s, w


def pgr_curve(
    scores: Sequence[float], strong: Sequence[float], weak: Sequence[float], *, bins: int = DECILES
) -> tuple[CurvePoint, ...]:
    """Route each row to strong when its score passes each decile threshold; points by strong share."""
    if len(scores) != len(strong):
        raise ValueError("one score per row is needed")
    s_acc, w_acc = _accuracies(strong, weak)
    n = len(scores)
    edges = decile_thresholds(scores, bins)
    points = []
    for i, t in enumerate(edges):
        last = i == len(edges) - 1
        chosen = [(x > t) if last else (x >= t) for x in scores]
        correct = sum(st if c else wk for c, st, wk in zip(chosen, strong, weak, strict=True))
        quality = correct / n
        points.append(CurvePoint(t, sum(chosen) / n, quality, (quality - w_acc) / (s_acc - w_acc)))
    return tuple(sorted(points, key=lambda p: p.strong_share))


def cpt(curve: Sequence[CurvePoint], target: float) -> float:
    """Share of strong calls where the piecewise-linear PGR curve first reaches the target."""
    if curve[0].pgr >= target:
        return curve[0].strong_share
    for a, b in pairwise(curve):
        if a.pgr < target <= b.pgr:
            return a.strong_share + (target - a.pgr) * (b.strong_share - a.strong_share) / (b.pgr - a.pgr)
    return curve[-1].strong_share


def apgr(curve: Sequence[CurvePoint]) -> float:
    """Trapezoid area under PGR over the strong share, divided by the share range it spans."""
    span = curve[-1].strong_share - curve[0].strong_share
    area = sum((b.strong_share - a.strong_share) * (a.pgr + b.pgr) / 2 for a, b in pairwise(curve))
    return area / span


def evaluate(
    name: str, scores: Sequence[float], strong: Sequence[float], weak: Sequence[float]
) -> RouterMetrics:
    """CPT(50 %), CPT(80 %) and APGR of a router that gave these scores."""
    curve = pgr_curve(scores, strong, weak)
    return RouterMetrics(name, cpt(curve, 0.5), cpt(curve, 0.8), apgr(curve), curve)


def length_scores(prompts: Sequence[str]) -> list[float]:
    """The prompt-length baseline: longer prompts go to the strong model first (length in characters)."""
    return [float(len(p)) for p in prompts]


def random_baseline() -> RouterMetrics:
    """A random router's expected figures: PGR equals the share of strong calls."""
    curve = tuple(CurvePoint(i / DECILES, i / DECILES, math.nan, i / DECILES) for i in range(DECILES + 1))
    return RouterMetrics("random", 0.5, 0.8, 0.5, curve)


def sampled_random_scores(n: int, *, seed: int = 0) -> list[float]:
    """Uniform random scores with a fixed seed, for checking a random router against its expectation."""
    rng = random.Random(seed)
    return [rng.random() for _ in range(n)]


def oracle_baseline(strong: Sequence[float], weak: Sequence[float]) -> RouterMetrics:
    """The oracle sends exactly the rows the weak model fails and the strong one solves to strong."""
    s_acc, w_acc = _accuracies(strong, weak)
    n = len(strong)
    needed = sum(1 for st, wk in zip(strong, weak, strict=True) if st > wk) / n
    gain = s_acc - w_acc

    def pgr_at(share: float) -> float:
        return min(share, needed) / gain

    shares = sorted({i / DECILES for i in range(DECILES + 1)} | {needed})
    curve = tuple(CurvePoint(math.nan, x, w_acc + min(x, needed), pgr_at(x)) for x in shares)
    return RouterMetrics("oracle", 0.5 * gain, 0.8 * gain, apgr(curve), curve)
