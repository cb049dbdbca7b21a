"""Task distribution: decisions per task and status, executed requests, success, cost, who answers."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.aggregate import aggregate
from app.analytics.money import percent, usd
from app.analytics.providers import scope_filters
from app.analytics.spec import ATTEMPTS, DECISIONS
from app.analytics.window import Window
from app.records import DecisionStatus


async def task_distribution(
    session: AsyncSession, window: Window, *, tenant: str | None = None
) -> dict[str, Any]:
    """Per task: decisions by status and share, executed requests, success rate, cost, top providers."""
    dialect = session.get_bind().dialect.name
    filters = scope_filters(tenant)
    decided = await session.execute(*aggregate(
        DECISIONS, window, dialect=dialect, dims=("task_type", "status"), measures=("decisions",),
        filters=filters))
    by_status: dict[str, dict[str, int]] = defaultdict(lambda: {s.value: 0 for s in DecisionStatus})
    for row in decided.mappings():
        by_status[str(row["task_type"])][str(row["status"])] = int(row["decisions"] or 0)
    executed = await session.execute(*aggregate(
        ATTEMPTS, window, dialect=dialect, dims=("task_type", "provider"),
        measures=("requests", "calls", "successes", "cost_usd", "baseline_cost_usd"), filters=filters))
    per_task: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "requests": 0, "successes": 0, "cost": Decimal(0), "baseline": Decimal(0), "answered_by": {}})
    for row in executed.mappings():
        t = per_task[str(row["task_type"])]
        t["requests"] += int(row["requests"] or 0)
        t["successes"] += int(row["successes"] or 0)
        t["cost"] += row["cost_usd"] or Decimal(0)
        t["baseline"] += row["baseline_cost_usd"] or Decimal(0)
        if row["successes"]:
            t["answered_by"][str(row["provider"])] = int(row["successes"])
    total = sum(sum(v.values()) for v in by_status.values())
    tasks = []
    for task in sorted(set(by_status) | set(per_task)):
        counts = by_status[task]
        decisions = sum(counts.values())
        t = per_task[task]
        answered = sorted(t["answered_by"].items(), key=lambda kv: (-kv[1], kv[0]))
        tasks.append({
            "task_type": task,
            "decisions": decisions,
            "share": round(decisions / total, 6) if total else 0.0,
            "by_status": counts,
            "requests": t["requests"],
            "success_rate": round(t["successes"] / t["requests"], 6) if t["requests"] else 0.0,
            "total_cost_usd": usd(t["cost"]),
            "baseline_cost_usd": usd(t["baseline"]),
            "savings_percent": percent(t["baseline"] - t["cost"], t["baseline"]),
            "avg_cost_usd": usd(t["cost"] / t["successes"]) if t["successes"] else 0.0,
            "answered_by": [{"provider": p, "requests": n} for p, n in answered],
        })
    tasks.sort(key=lambda t: (-t["decisions"], t["task_type"]))
    return {"window_hours": window.hours, "decisions": total, "tasks": tasks}
