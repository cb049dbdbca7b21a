"""Per-provider statistics over a window: requests, success rate, latency, cost, quality, fallbacks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import percentiles
from app.analytics.aggregate import aggregate
from app.analytics.options import ProviderOrder
from app.analytics.spec import ATTEMPTS
from app.analytics.stats import CALL_MEASURES, WITH_HISTOGRAM, CallStats, merge, provider_payload, rating
from app.analytics.window import Window
from app.config.catalog import Catalog

Key = tuple[str, ...]


def scope_filters(tenant: str | None, **more: str | None) -> dict[str, str | None]:
    """Filters for the caller's tenant (None: every tenant, for admins) and optional dimensions."""
    filters: dict[str, str | None] = {k: v for k, v in more.items() if v is not None}
    if tenant is not None:
        filters["tenant"] = tenant
    return filters


async def call_stats(
    session: AsyncSession,
    window: Window,
    *,
    dims: Sequence[str],
    tenant: str | None = None,
    provider: str | None = None,
    task_type: str | None = None,
    with_p95: bool = True,
) -> dict[Key, CallStats]:
    """Summed call measures per group of `dims`, with p95 (exact on short windows)."""
    dialect = session.get_bind().dialect.name
    filters = scope_filters(tenant, provider=provider, task_type=task_type)
    exact = window.raw_only
    measures = WITH_HISTOGRAM if with_p95 and not exact else CALL_MEASURES
    stmt, params = aggregate(ATTEMPTS, window, dialect=dialect, dims=dims, measures=measures, filters=filters)
    out: dict[Key, CallStats] = {}
    for row in (await session.execute(stmt, params)).mappings():
        out[tuple(str(row[d]) for d in dims)] = CallStats.from_row(row)
    if with_p95 and exact and out:
        for key, value in (await percentiles.exact(session, window, dims, filters)).items():
            if key in out:
                out[key].p95_exact = value
    return out


def _sort_key(order: ProviderOrder) -> Any:
    def key(item: dict[str, Any]) -> Any:
        if order is ProviderOrder.NAME:
            return item["provider"]
        value = {
            ProviderOrder.REQUESTS: item["requests"],
            ProviderOrder.SUCCESS_RATE: item["success_rate"],
            ProviderOrder.COST: item["total_cost_usd"],
            ProviderOrder.P95: item["p95_response_time_ms"] or 0.0,
            ProviderOrder.QUALITY: item["quality_score"] or 0.0,
        }[order]
        return (-value, item["provider"])
    return key


async def providers_report(
    session: AsyncSession,
    window: Window,
    *,
    catalog: Catalog,
    tenant: str | None = None,
    order_by: ProviderOrder = ProviderOrder.REQUESTS,
) -> list[dict[str, Any]]:
    """Every provider that was called or skipped in the window, with its figures."""
    stats = await call_stats(session, window, dims=("provider",), tenant=tenant)
    health = catalog.health
    items = [
        provider_payload(key[0], s, exact=window.raw_only, stars=rating(
            s, min_success_rate=health.min_success_rate, max_mean_latency_ms=health.max_mean_latency_ms))
        for key, s in stats.items()
    ]
    return sorted(items, key=_sort_key(order_by))


async def provider_report(
    session: AsyncSession, window: Window, name: str, *, catalog: Catalog, tenant: str | None = None
) -> dict[str, Any]:
    """One provider's figures (zeros when it saw no traffic), with a breakdown per model."""
    stats = await call_stats(session, window, dims=("provider", "model"), tenant=tenant, provider=name)
    health = catalog.health
    total = merge(list(stats.values()))
    if window.raw_only:
        exact = await percentiles.exact(session, window, ("provider",),
                                        scope_filters(tenant, provider=name))
        total.p95_exact = exact.get((name,))

    def stars(s: CallStats) -> int:
        return rating(s, min_success_rate=health.min_success_rate,
                      max_mean_latency_ms=health.max_mean_latency_ms)

    payload = provider_payload(name, total, stars=stars(total), exact=window.raw_only)
    payload["models"] = [
        {**provider_payload(name, s, stars=stars(s), exact=window.raw_only), "model": key[1]}
        for key, s in sorted(stats.items())
    ]
    return payload
