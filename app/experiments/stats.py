"""Confidence intervals by the normal approximation (95 %, z = 1.96), from SQL sums.

Means: mean +- z x s / sqrt(n) with the sample standard deviation s from n, sum and sum of
squares. Proportions: the Wald interval p +- z x sqrt(p (1 - p) / n), clipped to [0, 1].
"""

from __future__ import annotations

import math

Z95 = 1.96


def mean_ci(n: int, total: float, squares: float, *, z: float = Z95) -> dict[str, float | int | None]:
    """{"n", "mean", "low", "high"}; the interval needs two observations."""
    if n <= 0:
        return {"n": 0, "mean": None, "low": None, "high": None}
    mean = total / n
    if n < 2:
        return {"n": n, "mean": mean, "low": None, "high": None}
    variance = max(0.0, (squares - n * mean * mean) / (n - 1))
    half = z * math.sqrt(variance / n)
    return {"n": n, "mean": mean, "low": mean - half, "high": mean + half}


def proportion_ci(successes: int, n: int, *, z: float = Z95) -> dict[str, float | int | None]:
    """{"n", "rate", "low", "high"} of successes out of n."""
    if n <= 0:
        return {"n": 0, "rate": None, "low": None, "high": None}
    p = successes / n
    half = z * math.sqrt(p * (1 - p) / n)
    return {"n": n, "rate": p, "low": max(0.0, p - half), "high": min(1.0, p + half)}
