"""Cost analysis over a window: total, the baseline's cost for the same tokens, savings, breakdowns.

The baseline figure is the sum of `attempts.baseline_cost_usd`: each attempt stored what the
baseline model would have charged for the tokens it really used, so savings are exact per
request, never an estimate from blended prices.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.aggregate import Granularity, aggregate
from app.analytics.money import percent, usd
from app.analytics.providers import scope_filters
from app.analytics.spec import ATTEMPTS, NO_TENANT
from app.analytics.window import Window

COST_MEASURES = ("requests", "cost_usd", "baseline_cost_usd")
NO_TENANT_KEY = "(none)"
SERIES_HOURLY_MAX_HOURS = 72


def series_granularity(window: Window) -> Granularity:
    """Hourly points up to three days, daily beyond."""
    return "hour" if window.hours <= SERIES_HOURLY_MAX_HOURS else "day"


async def cost_analysis(
    session: AsyncSession, window: Window, *, tenant: str | None = None
) -> dict[str, Any]:
    """SPEC section 7's cost analysis, plus a per-day breakdown and a time series for charts."""
    dialect = session.get_bind().dialect.name
    filters = scope_filters(tenant)

    async def grouped(dims: tuple[str, ...], series: Granularity | None = None) -> list[Any]:
        stmt, params = aggregate(ATTEMPTS, window, dialect=dialect, dims=dims, measures=COST_MEASURES,
                                 filters=filters, series=series)
        return list((await session.execute(stmt, params)).mappings())

    by_provider = await grouped(("provider",))
    total = sum((r["cost_usd"] or Decimal(0) for r in by_provider), Decimal(0))
    baseline = sum((r["baseline_cost_usd"] or Decimal(0) for r in by_provider), Decimal(0))
    requests = sum(int(r["requests"] or 0) for r in by_provider)
    by_task = await grouped(("task_type",))
    by_tenant = await grouped(("tenant",))
    by_day = await grouped((), "day")
    granularity = series_granularity(window)
    series = by_day if granularity == "day" else await grouped((), "hour")
    savings = baseline - total
    return {
        "window_hours": window.hours,
        "requests": requests,
        "total_cost_usd": usd(total),
        "baseline_cost_usd": usd(baseline),
        "savings_usd": usd(savings),
        "savings_percent": percent(savings, baseline),
        "by_provider": _breakdown(by_provider, "provider"),
        "by_task": _breakdown(by_task, "task_type"),
        "by_tenant": _breakdown(by_tenant, "tenant"),
        "by_day": [_point(r, "day") for r in by_day],
        "series": {"granularity": granularity,
                   "points": [_point(r, "start") for r in series]},
        "top_spenders": _top_spenders(by_provider, total),
    }


def _breakdown(rows: list[Any], dim: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in sorted(rows, key=lambda r: (-(r["cost_usd"] or 0), str(r[dim]))):
        name = str(r[dim])
        out[NO_TENANT_KEY if dim == "tenant" and name == NO_TENANT else name] = usd(r["cost_usd"])
    return out


def _point(row: Any, label: str) -> dict[str, Any]:
    cost = row["cost_usd"] or Decimal(0)
    baseline = row["baseline_cost_usd"] or Decimal(0)
    start = row["t"]
    return {
        label: start.date().isoformat() if label == "day" else start.isoformat(),
        "requests": int(row["requests"] or 0),
        "total_cost_usd": usd(cost),
        "baseline_cost_usd": usd(baseline),
        "savings_usd": usd(baseline - cost),
    }


def _top_spenders(rows: list[Any], total: Decimal, limit: int = 5) -> list[dict[str, Any]]:
    ranked = sorted(rows, key=lambda r: (-(r["cost_usd"] or 0), str(r["provider"])))[:limit]
    return [{"provider": str(r["provider"]), "total_cost_usd": usd(r["cost_usd"]),
             "share_percent": percent(r["cost_usd"] or Decimal(0), total)} for r in ranked]
