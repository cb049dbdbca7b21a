"""Fallbacks: how often each provider was reached as a fallback, and why the calls before it failed."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.aggregate import aggregate
from app.analytics.providers import scope_filters
from app.analytics.spec import ATTEMPTS, FAILURES
from app.analytics.window import Window


async def fallback_report(
    session: AsyncSession, window: Window, *, tenant: str | None = None, task_type: str | None = None
) -> dict[str, Any]:
    """Per provider: calls as a fallback and rescues, failures by outcome and error class.

    `fallback_rate` is the share of answered requests that a fallback answered. A failure's
    reasons include `skipped` (no key, or rate-limited earlier in the same request): those also
    send the request down the chain.
    """
    dialect = session.get_bind().dialect.name
    filters = scope_filters(tenant, task_type=task_type)
    calls = await session.execute(*aggregate(
        ATTEMPTS, window, dialect=dialect, dims=("provider",), filters=filters,
        measures=("requests", "calls", "successes", "fallback_calls", "fallback_successes")))
    failed = await session.execute(*aggregate(
        FAILURES, window, dialect=dialect, dims=("provider", "outcome", "error_class"),
        measures=("failures", "as_fallback"), filters=filters))
    reasons: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in failed.mappings():
        reasons[str(row["provider"])].append({
            "outcome": str(row["outcome"]), "error_class": str(row["error_class"]) or None,
            "count": int(row["failures"] or 0), "as_fallback": int(row["as_fallback"] or 0)})
    providers = []
    requests = successes = rescued = fallback_calls = 0
    for row in calls.mappings():
        name = str(row["provider"])
        requests += int(row["requests"] or 0)
        successes += int(row["successes"] or 0)
        rescued += int(row["fallback_successes"] or 0)
        fallback_calls += int(row["fallback_calls"] or 0)
        why = sorted(reasons.get(name, []), key=lambda r: (-r["count"], r["outcome"], r["error_class"] or ""))
        providers.append({
            "provider": name,
            "calls": int(row["calls"] or 0),
            "reached_as_fallback": int(row["fallback_calls"] or 0),
            "fallback_successes": int(row["fallback_successes"] or 0),
            "failures": sum(r["count"] for r in why),
            "failure_reasons": why,
        })
    providers.sort(key=lambda p: (-p["reached_as_fallback"], -p["failures"], p["provider"]))
    return {
        "window_hours": window.hours,
        "requests": requests,
        "answered": successes,
        "answered_by_fallback": rescued,
        "fallback_calls": fallback_calls,
        "fallback_rate": round(rescued / successes, 6) if successes else 0.0,
        "providers": providers,
    }
