"""Recommendations with numbers, from the stored data: top performers, cost-effective choices,
problem providers, routing changes per task with their effect, and the savings so far.

A routing change is proposed only for a model the routing engine itself would accept for every
constraint class (task, budget, region, SLA, compliance, size) the current model served in the
window, so it never breaks a request's region or compliance rules.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.aggregate import aggregate
from app.analytics.money import percent, usd
from app.analytics.providers import call_stats, scope_filters
from app.analytics.spec import DECISIONS
from app.analytics.stats import CallStats, merge
from app.analytics.window import Window
from app.config.catalog import Catalog
from app.config.enums import BudgetTier, Region, TaskType
from app.routing.index import CatalogIndex, StaticKey

SAME_SUCCESS = 0.01  # success rates within one percentage point count as the same
PER = 1000


@dataclass(frozen=True, slots=True)
class ConstraintClass:
    """The constraints of some stored decisions, and the largest request among them."""

    budget: str
    region: str
    requires_sla: bool
    requires_compliance: bool
    max_tokens: int


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f} ms"


def _pct(rate: float) -> str:
    return f"{rate * 100:.1f} %"


def allowed(index: CatalogIndex, task: str, provider: str, model: str,
            classes: Iterable[ConstraintClass], keyed: frozenset[str] | None) -> bool:
    """Whether the engine's static filters admit provider/model for every class (and it fits)."""
    if keyed is not None and provider not in keyed:
        return False
    try:
        task_type = TaskType(task)
    except ValueError:
        return False
    checked = False
    for c in classes:
        try:
            key = StaticKey(task_type, BudgetTier(c.budget), Region(c.region), c.requires_sla,
                            c.requires_compliance, index.context_class(c.max_tokens))
        except ValueError:
            return False
        ok = any(s.candidate.provider == provider and s.candidate.model == model
                 and s.candidate.context_window >= c.max_tokens for s in index.static(key).ranked)
        if not ok:
            return False
        checked = True
    return checked


async def _classes(session: AsyncSession, window: Window, tenant: str | None
                   ) -> dict[tuple[str, str], list[ConstraintClass]]:
    """(task, primary provider) -> the constraint classes of its decisions in the window."""
    stmt, params = aggregate(DECISIONS, window, dialect=session.get_bind().dialect.name,
                     dims=("task_type", "primary_provider", "budget", "region", "requires_sla",
                           "requires_compliance"),
                     measures=("decisions", "max_tokens"), filters=scope_filters(tenant))
    out: dict[tuple[str, str], list[ConstraintClass]] = defaultdict(list)
    for r in (await session.execute(stmt, params)).mappings():
        if r["primary_provider"]:
            out[(str(r["task_type"]), str(r["primary_provider"]))].append(ConstraintClass(
                str(r["budget"]), str(r["region"]), bool(r["requires_sla"]),
                bool(r["requires_compliance"]), int(r["max_tokens"] or 0)))
    return out


def _price(catalog: Catalog, provider: str, model: str) -> tuple[Decimal, Decimal] | None:
    spec = catalog.providers.get(provider)
    for m in spec.models if spec else ():
        if m.name == model:
            return Decimal(m.input_price), Decimal(m.output_price)
    return None


async def recommendations(
    session: AsyncSession,
    window: Window,
    *,
    catalog: Catalog,
    index: CatalogIndex,
    tenant: str | None = None,
    keyed: frozenset[str] | None = None,
) -> list[dict[str, Any]]:
    """Every recommendation, each with a message and the figures behind it."""
    health = catalog.health
    groups = await call_stats(session, window, dims=("task_type", "provider", "model"), tenant=tenant)
    by_task: dict[str, dict[tuple[str, str], CallStats]] = defaultdict(dict)
    for (task, provider, model), s in groups.items():
        by_task[task][(provider, model)] = s
    out: list[dict[str, Any]] = []
    for task in sorted(by_task):
        sampled = {k: s for k, s in by_task[task].items() if s.calls >= health.min_requests}
        out.extend(_task_picks(task, sampled, health.min_success_rate))
    classes = await _classes(session, window, tenant)
    for task in sorted(by_task):
        change = _routing_change(task, by_task[task], classes, catalog=catalog, index=index,
                                 keyed=keyed, min_calls=health.min_requests)
        if change:
            out.append(change)
    out.extend(_problems(groups, min_calls=health.min_requests, min_success=health.min_success_rate,
                         max_latency=health.max_mean_latency_ms))
    total = merge(list(groups.values()))
    if total.requests:
        saved = total.baseline_cost_usd - total.cost_usd
        base = catalog.baseline
        out.append({
            "kind": "savings",
            "message": f"💵 Routing saved ${saved:,.2f} ({percent(saved, total.baseline_cost_usd)} %) "
                       f"against {base.provider}/{base.model} over {total.requests:,} requests",
            "figures": {"requests": total.requests, "total_cost_usd": usd(total.cost_usd),
                        "baseline_cost_usd": usd(total.baseline_cost_usd), "savings_usd": usd(saved),
                        "savings_percent": percent(saved, total.baseline_cost_usd)},
        })
    return out


def _figures(s: CallStats) -> dict[str, Any]:
    cps = s.cost_per_success
    return {"calls": s.calls, "success_rate": round(s.success_rate, 6),
            "quality_score": None if s.quality is None else round(s.quality, 4),
            "avg_response_time_ms": round(s.mean_latency_ms, 3),
            "p95_response_time_ms": None if s.p95_ms is None else round(s.p95_ms, 3),
            "cost_per_1000_usd": None if cps is None else usd(cps * PER)}


def _task_picks(task: str, sampled: dict[tuple[str, str], CallStats], min_success: float
                ) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    good = {k: s for k, s in sampled.items() if s.success_rate >= min_success and s.quality is not None}
    if good:
        (p, m), s = min(good.items(), key=lambda kv: (-(kv[1].quality or 0), -kv[1].success_rate,
                                                      kv[1].p95_ms or 0, kv[0]))
        out.append({"kind": "top_performer", "task_type": task, "provider": p, "model": m,
                    "message": f"⭐ {task}: {p}/{m} performs best: quality {s.quality:.1f}/10, "
                               f"success {_pct(s.success_rate)}, p95 {_ms(s.p95_ms)} ({s.calls:,} calls)",
                    "figures": _figures(s)})
    paid = {k: s for k, s in sampled.items() if s.cost_per_success is not None}
    if paid:
        best_rate = max(s.success_rate for s in paid.values())
        peers = {k: s for k, s in paid.items() if s.success_rate >= best_rate - SAME_SUCCESS}
        (p, m), s = min(peers.items(), key=lambda kv: (kv[1].cost_per_success, kv[0]))
        cps = s.cost_per_success or Decimal(0)
        out.append({"kind": "cost_effective", "task_type": task, "provider": p, "model": m,
                    "message": f"💰 {task}: most cost-effective at the best success rate: {p}/{m}, "
                               f"${cps * PER:,.2f} per 1,000 requests (success {_pct(s.success_rate)})",
                    "figures": _figures(s)})
    return out


def _routing_change(
    task: str, stats: dict[tuple[str, str], CallStats],
    classes: dict[tuple[str, str], list[ConstraintClass]], *, catalog: Catalog, index: CatalogIndex,
    keyed: frozenset[str] | None, min_calls: int,
) -> dict[str, Any] | None:
    serving = [(k, s) for k, s in stats.items() if s.successes and s.calls >= min_calls]
    if not serving:
        return None
    (yp, ym), ys = max(serving, key=lambda kv: (kv[1].successes, kv[0]))
    served = classes.get((task, yp), [])
    y_cost = ys.cost_per_success
    if not served or y_cost is None:
        return None
    tokens_in = Decimal(ys.input_tokens) / ys.successes
    tokens_out = Decimal(ys.output_tokens) / ys.successes
    best: tuple[Decimal, tuple[str, str], CallStats] | None = None
    for (xp, xm), xs in sorted(stats.items()):
        if xp == yp or xs.calls < min_calls or xs.success_rate < ys.success_rate - SAME_SUCCESS:
            continue
        price = _price(catalog, xp, xm)
        if price is None or not allowed(index, task, xp, xm, served, keyed):
            continue
        x_cost = (tokens_in * price[0] + tokens_out * price[1]) / Decimal(1_000_000)
        saving = (y_cost - x_cost) * PER
        if saving >= Decimal("0.01") and (best is None or saving > best[0]):
            best = (saving, (xp, xm), xs)
    if best is None:
        return None
    saving, (xp, xm), xs = best
    dp95 = None if xs.p95_ms is None or ys.p95_ms is None else xs.p95_ms - ys.p95_ms
    same = abs(xs.success_rate - ys.success_rate) <= SAME_SUCCESS
    rates = (f"same success rate ({_pct(xs.success_rate)} vs {_pct(ys.success_rate)})" if same
             else f"success {_pct(xs.success_rate)} vs {_pct(ys.success_rate)}")
    latency = "p95 n/a" if dp95 is None else f"{dp95:+,.0f} ms p95"
    return {
        "kind": "routing_change", "task_type": task, "provider": xp, "model": xm,
        "instead_of": {"provider": yp, "model": ym},
        "message": f"🔀 send {task} to {xp}/{xm} instead of {yp}/{ym}: \u2212${saving:,.2f} per 1,000 "
                   f"requests, {latency}, {rates}",
        "figures": {"savings_per_1000_usd": usd(saving),
                    "p95_delta_ms": None if dp95 is None else round(dp95, 3),
                    "candidate": _figures(xs), "current": _figures(ys),
                    "constraint_classes": len(served)},
    }


def _problems(groups: dict[tuple[str, ...], CallStats], *, min_calls: int, min_success: float,
              max_latency: float) -> list[dict[str, Any]]:
    per_provider: dict[str, list[CallStats]] = defaultdict(list)
    for (_task, provider, _model), s in groups.items():
        per_provider[provider].append(s)
    out: list[dict[str, Any]] = []
    for provider in sorted(per_provider):
        s = merge(per_provider[provider])
        if s.calls < min_calls:
            continue
        reasons = []
        if s.success_rate < min_success:
            reasons.append(f"success rate {_pct(s.success_rate)} is under the {_pct(min_success)} threshold")
        if s.mean_latency_ms > max_latency:
            reasons.append(f"mean latency {_ms(s.mean_latency_ms)} is over the {_ms(max_latency)} threshold")
        if reasons:
            out.append({"kind": "problem_provider", "provider": provider,
                        "message": f"⚠️ {provider}: " + "; ".join(reasons) + f" ({s.calls:,} calls)",
                        "figures": _figures(s)})
    return out
