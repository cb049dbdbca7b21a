"""The figures of a run: cost against the baseline, availability with fallback against each provider's
own, attempts per request, latency percentiles and fallbacks per provider; as a dict and a table."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

SUCCEEDED, FAILED, REJECTED = "succeeded", "failed", "rejected"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One provider call inside a request: provider and outcome (success, error, timeout, …)."""

    provider: str
    outcome: str


@dataclass(slots=True)
class RequestResult:
    """What happened to one workload request (status: succeeded, failed or rejected)."""

    budget: str
    status: str
    cost_usd: float = 0.0
    baseline_cost_usd: float = 0.0
    provider: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    latency_ms: float | None = None


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1) of unsorted values; None when empty."""
    if not values:
        return None
    data = sorted(values)
    return data[min(len(data) - 1, max(0, int(q * len(data) + 0.5) - 1))]


def _percent(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 4) if whole else None


def _savings(cost: float, baseline: float) -> dict[str, Any]:
    return {"cost_usd": round(cost, 6), "baseline_cost_usd": round(baseline, 6),
            "savings_usd": round(baseline - cost, 6), "savings_percent": _percent(baseline - cost, baseline)}


def build_report(results: list[RequestResult], *, mode: str,
                 extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Aggregate per-request results; costs count only answered (or, dry-run, routed) requests."""
    statuses = Counter(r.status for r in results)
    routed = statuses[SUCCEEDED] + statuses[FAILED]
    costed = [r for r in results if r.status == SUCCEEDED]
    by_budget: dict[str, list[RequestResult]] = defaultdict(list)
    for r in costed:
        by_budget[r.budget].append(r)
    tried: Counter[str] = Counter()
    ok: Counter[str] = Counter()
    fallbacks: Counter[str] = Counter()
    attempts_hist: Counter[int] = Counter()
    for r in results:
        real = [a for a in r.attempts if a.outcome != "skipped"]
        if r.status != REJECTED and mode == "replay":
            attempts_hist[len(real)] += 1
        for i, a in enumerate(real):
            tried[a.provider] += 1
            ok[a.provider] += a.outcome == "success"
            if a.outcome != "success" and i + 1 < len(real):
                fallbacks[a.provider] += 1  # the next provider in the chain was tried after this one
    total_attempts = sum(k * v for k, v in attempts_hist.items())
    latencies = [r.latency_ms for r in results if r.latency_ms is not None and r.status != REJECTED]
    report: dict[str, Any] = {
        "mode": mode,
        "requests": len(results),
        "routed": routed,
        "rejected_no_eligible_provider": statuses[REJECTED],
        "succeeded": statuses[SUCCEEDED],
        "failed": statuses[FAILED],
        "availability_percent": _percent(statuses[SUCCEEDED], routed),
        **_savings(sum(r.cost_usd for r in costed), sum(r.baseline_cost_usd for r in costed)),
        "by_budget": {
            tier: {"requests": len(rs), **_savings(sum(r.cost_usd for r in rs),
                                                   sum(r.baseline_cost_usd for r in rs))}
            for tier, rs in sorted(by_budget.items())
        },
        "answered_by": dict(Counter(r.provider for r in costed if r.provider).most_common()),
    }
    if mode == "replay":
        report |= {
            "attempts_per_request": round(total_attempts / routed, 4) if routed else None,
            "attempts_histogram": {str(k): v for k, v in sorted(attempts_hist.items())},
            "latency_ms": {f"p{int(q * 100)}": percentile(latencies, q) for q in (0.5, 0.95, 0.99)},
            "providers": {
                name: {"attempts": tried[name], "successes": ok[name],
                       "availability_percent": _percent(ok[name], tried[name]),
                       "fallbacks_from": fallbacks[name]}
                for name in sorted(tried)
            },
        }
    return report | (extra or {})


def _fmt(value: Any, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


def render_table(report: dict[str, Any]) -> str:
    """The report as plain text for a terminal."""
    lines = [
        f"mode {report['mode']}: {report['requests']} requests, {report['routed']} routed, "
        f"{report['rejected_no_eligible_provider']} with no eligible provider",
        f"cost ${report['cost_usd']:.4f} vs baseline ${report['baseline_cost_usd']:.4f}: "
        f"saved ${report['savings_usd']:.4f} ({_fmt(report['savings_percent'], '.2f')} %)",
        f"{'budget':<10}{'requests':>9}{'cost $':>12}{'baseline $':>12}{'saved %':>9}",
    ]
    for tier, b in report["by_budget"].items():
        lines.append(f"{tier:<10}{b['requests']:>9}{b['cost_usd']:>12.4f}{b['baseline_cost_usd']:>12.4f}"
                     f"{_fmt(b['savings_percent'], '.2f'):>9}")
    if report["mode"] == "replay":
        lat = report["latency_ms"]
        lines += [
            f"availability with fallback {_fmt(report['availability_percent'], '.3f')} % "
            f"({report['succeeded']} succeeded, {report['failed']} failed); "
            f"attempts per request {_fmt(report['attempts_per_request'], '.3f')}",
            f"latency ms p50 {_fmt(lat['p50'], '.1f')}  p95 {_fmt(lat['p95'], '.1f')}  "
            f"p99 {_fmt(lat['p99'], '.1f')}",
            f"{'provider':<14}{'attempts':>9}{'ok':>8}{'own avail. %':>14}{'fallbacks':>11}",
        ]
        for name, p in report["providers"].items():
            lines.append(f"{name:<14}{p['attempts']:>9}{p['successes']:>8}"
                         f"{_fmt(p['availability_percent'], '.2f'):>14}{p['fallbacks_from']:>11}")
    return "\n".join(lines)
