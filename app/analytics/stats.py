"""Per-provider call statistics from summed measures: rates, means, p95, cost and a star rating."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app.analytics.money import usd
from app.analytics.percentiles import from_histogram
from app.analytics.spec import HIST_COLUMNS

CALL_MEASURES: tuple[str, ...] = (
    "requests", "calls", "successes", "errors", "timeouts", "rate_limited", "skipped",
    "fallback_calls", "fallback_successes", "latency_sum_ms", "quality_sum", "quality_count",
    "input_tokens", "output_tokens", "cost_usd", "baseline_cost_usd", "estimated_costs",
)
WITH_HISTOGRAM: tuple[str, ...] = CALL_MEASURES + HIST_COLUMNS


@dataclass(slots=True)
class CallStats:
    """Summed measures of a group of attempts (one provider, or one provider+model+task)."""

    calls: int = 0
    successes: int = 0
    errors: int = 0
    timeouts: int = 0
    rate_limited: int = 0
    skipped: int = 0
    requests: int = 0
    fallback_calls: int = 0
    fallback_successes: int = 0
    latency_sum_ms: float = 0.0
    quality_sum: float = 0.0
    quality_count: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    baseline_cost_usd: Decimal = Decimal(0)
    estimated_costs: int = 0
    histogram: list[int] = field(default_factory=list)
    p95_exact: float | None = None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> CallStats:
        """From a row of SUM()s (NULL sums of an empty window count as zero)."""
        stats = cls(
            **{name: _num(row.get(name), name) for name in CALL_MEASURES if name in row},
        )
        if HIST_COLUMNS[0] in row:
            stats.histogram = [int(row[h] or 0) for h in HIST_COLUMNS]
        return stats

    @property
    def success_rate(self) -> float:
        return self.successes / self.calls if self.calls else 0.0

    @property
    def mean_latency_ms(self) -> float:
        return self.latency_sum_ms / self.calls if self.calls else 0.0

    @property
    def p95_ms(self) -> float | None:
        if self.p95_exact is not None:
            return self.p95_exact
        return from_histogram(self.histogram) if self.histogram else None

    @property
    def quality(self) -> float | None:
        return self.quality_sum / self.quality_count if self.quality_count else None

    @property
    def fallback_rate(self) -> float:
        """Share of this provider's calls that were made as a fallback (it was not the primary)."""
        return self.fallback_calls / self.calls if self.calls else 0.0

    @property
    def cost_per_success(self) -> Decimal | None:
        return self.cost_usd / self.successes if self.successes else None


def rating(stats: CallStats, *, min_success_rate: float, max_mean_latency_ms: float) -> int:
    """1 to 5 stars: success rate bands, one star off when slower than the health threshold."""
    rate = stats.success_rate
    stars = 5 if rate >= 0.99 else 4 if rate >= 0.97 else 3 if rate >= 0.95 else (
        2 if rate >= min_success_rate else 1)
    if stats.calls and stats.mean_latency_ms > max_mean_latency_ms:
        stars -= 1
    return max(1, stars)


def provider_payload(name: str, stats: CallStats, *, stars: int, exact: bool) -> dict[str, Any]:
    """The SPEC section 7 provider record, plus the counts behind each rate."""
    p95 = stats.p95_ms
    quality = stats.quality
    return {
        "provider": name,
        "requests": stats.calls,
        "success_rate": round(stats.success_rate, 6),
        "avg_response_time_ms": round(stats.mean_latency_ms, 3),
        "p95_response_time_ms": None if p95 is None else round(p95, 3),
        "total_cost_usd": usd(stats.cost_usd),
        "quality_score": None if quality is None else round(quality, 4),
        "fallback_rate": round(stats.fallback_rate, 6),
        "successes": stats.successes,
        "failures": {"error": stats.errors, "timeout": stats.timeouts,
                     "rate_limited": stats.rate_limited},
        "skipped": stats.skipped,
        "fallback_calls": stats.fallback_calls,
        "fallback_successes": stats.fallback_successes,
        "baseline_cost_usd": usd(stats.baseline_cost_usd),
        "savings_usd": usd(stats.baseline_cost_usd - stats.cost_usd),
        "input_tokens": stats.input_tokens,
        "output_tokens": stats.output_tokens,
        "estimated_costs": stats.estimated_costs,
        "rating": stars,
        "p95_method": "exact" if exact else "histogram",
    }


def _num(value: Any, name: str) -> Any:
    if name in ("cost_usd", "baseline_cost_usd"):
        return Decimal(0) if value is None else Decimal(value)
    if name in ("latency_sum_ms", "quality_sum"):
        return float(value or 0.0)
    return int(value or 0)


def merge(rows: Sequence[CallStats]) -> CallStats:
    """The sum of several groups (histograms added bucket by bucket)."""
    out = CallStats()
    for s in rows:
        for name in CALL_MEASURES:
            setattr(out, name, getattr(out, name) + getattr(s, name))
        if s.histogram:
            out.histogram = [a + b for a, b in zip(out.histogram or [0] * len(s.histogram),
                                                   s.histogram, strict=True)]
    return out
