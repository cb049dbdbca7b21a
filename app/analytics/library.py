"""`RoutingAnalytics`: the design note's library API over the same SQL the endpoints use.

    analytics = RoutingAnalytics(store.sessions, catalog=catalog, recorder=store.recorder)
    analytics.record_routing_decision(decision, result)
    await analytics.get_provider_analytics("deepseek")
    await analytics.get_cost_analysis(time_window_hours=24)
    await analytics.generate_recommendations()
    await analytics.export_analytics(format="json", include_raw_data=True)

Every query takes the tenant as a parameter (None: all tenants, the admin view), so the
service can enforce that a tenant sees only its own records.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.analytics.costs import cost_analysis
from app.analytics.decisions import list_decisions
from app.analytics.export import export_stream
from app.analytics.fallbacks import fallback_report
from app.analytics.options import DEFAULT_RECOMMENDATION_HOURS, ExportFormat, ProviderOrder
from app.analytics.providers import provider_report, providers_report
from app.analytics.recommendations import recommendations
from app.analytics.tasks import task_distribution
from app.analytics.window import Window
from app.config.catalog import Catalog
from app.config.loader import load_catalog
from app.execution.result import ExecutionResult
from app.records import AttemptRecord, DecisionRecord, DecisionStatus, RecordSink
from app.routing.index import CatalogIndex
from app.routing.schemas import RoutingDecision


class RoutingAnalytics:
    """Provider, cost and task analytics, recommendations and export over the stored records."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        catalog: Catalog | None = None,
        index: CatalogIndex | None = None,
        recorder: RecordSink | None = None,
        keyed: frozenset[str] | None = None,
    ) -> None:
        self.sessions = sessions
        self.catalog = catalog or (index.catalog if index else load_catalog())
        self.index = index or CatalogIndex(self.catalog)
        self.recorder = recorder
        self.keyed = keyed

    # -- recording --

    def record_routing_decision(
        self, routing_decision: RoutingDecision, execution_result: ExecutionResult | None = None,
        *, attempts: list[AttemptRecord] | None = None,
    ) -> None:
        """Hand a decision (and its attempts) to the recorder; never waits on the database."""
        if self.recorder is None:
            raise RuntimeError("RoutingAnalytics was built without a recorder (pass store.recorder)")
        status = DecisionStatus.ROUTED
        done = attempts if attempts is not None else (execution_result.attempts if execution_result else [])
        if execution_result is not None:
            status = DecisionStatus.SUCCEEDED
        elif done:
            status = DecisionStatus.FAILED
        self.recorder.submit_decision(DecisionRecord.from_decision(routing_decision, status=status))
        if done:
            self.recorder.submit_attempts(list(done))

    # -- the note's queries --

    async def get_provider_analytics(
        self, provider: str, *, time_window_hours: float = 24, tenant: str | None = None,
        now: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """One provider: SPEC field names plus the note's (success_rate, avg_response_time, total_cost)."""
        async with self.sessions() as session:
            out = await provider_report(session, Window.last(time_window_hours, now=now), provider,
                                        catalog=self.catalog, tenant=tenant)
        out["avg_response_time"] = out["avg_response_time_ms"] / 1000
        out["total_cost"] = out["total_cost_usd"]
        return out

    async def get_providers(
        self, *, time_window_hours: float = 24, tenant: str | None = None,
        order_by: ProviderOrder = ProviderOrder.REQUESTS, now: dt.datetime | None = None,
    ) -> list[dict[str, Any]]:
        async with self.sessions() as session:
            return await providers_report(session, Window.last(time_window_hours, now=now),
                                          catalog=self.catalog, tenant=tenant, order_by=order_by)

    async def get_cost_analysis(
        self, time_window_hours: float = 24, *, tenant: str | None = None, now: dt.datetime | None = None,
    ) -> dict[str, Any]:
        """SPEC section 7's cost analysis plus the note's keys (total_cost, provider_breakdown, …)."""
        async with self.sessions() as session:
            out = await cost_analysis(session, Window.last(time_window_hours, now=now), tenant=tenant)
        out["total_cost"] = out["total_cost_usd"]
        out["provider_breakdown"] = out["by_provider"]
        out["savings_vs_baseline"] = out["savings_usd"]
        return out

    async def get_task_distribution(
        self, time_window_hours: float = 24, *, tenant: str | None = None, now: dt.datetime | None = None,
    ) -> dict[str, Any]:
        async with self.sessions() as session:
            return await task_distribution(session, Window.last(time_window_hours, now=now), tenant=tenant)

    async def get_fallbacks(
        self, time_window_hours: float = 24, *, tenant: str | None = None, task_type: str | None = None,
        now: dt.datetime | None = None,
    ) -> dict[str, Any]:
        async with self.sessions() as session:
            return await fallback_report(session, Window.last(time_window_hours, now=now), tenant=tenant,
                                         task_type=task_type)

    async def get_decisions(self, window: Window, **filters: Any) -> dict[str, Any]:
        """A page of decisions; filters: tenant, task_type, provider, status, limit, cursor."""
        async with self.sessions() as session:
            return await list_decisions(session, window, **filters)

    async def recommendation_report(
        self, time_window_hours: float = DEFAULT_RECOMMENDATION_HOURS, *, tenant: str | None = None,
        now: dt.datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Recommendations with their figures."""
        async with self.sessions() as session:
            return await self._recommendations(session, Window.last(time_window_hours, now=now), tenant)

    async def generate_recommendations(
        self, time_window_hours: float = DEFAULT_RECOMMENDATION_HOURS, *, tenant: str | None = None,
        now: dt.datetime | None = None,
    ) -> list[str]:
        """The note's list of messages ("⭐ deepseek: …", "💰 Most cost-effective: …")."""
        report = await self.recommendation_report(time_window_hours, tenant=tenant, now=now)
        return [r["message"] for r in report]

    async def _recommendations(self, session: AsyncSession, window: Window, tenant: str | None
                               ) -> list[dict[str, Any]]:
        return await recommendations(session, window, catalog=self.catalog, index=self.index,
                                     tenant=tenant, keyed=self.keyed)

    # -- export --

    def export_stream(
        self, *, format: str = "json", include_raw_data: bool = False,
        time_window_hours: float = 24, tenant: str | None = None, now: dt.datetime | None = None,
    ) -> AsyncIterator[bytes]:
        """The export as an async stream of byte chunks (constant memory)."""
        window = Window.last(time_window_hours, now=now)

        async def summary() -> dict[str, Any]:
            # Independent reports on their own connections, so the database runs them side by side.
            async def run(report: Any, **kwargs: Any) -> Any:
                async with self.sessions() as session:
                    return await report(session, window, **kwargs)

            providers, costs, tasks, fallbacks, recs = await asyncio.gather(
                run(providers_report, catalog=self.catalog, tenant=tenant),
                run(cost_analysis, tenant=tenant),
                run(task_distribution, tenant=tenant),
                run(fallback_report, tenant=tenant),
                run(recommendations, catalog=self.catalog, index=self.index, tenant=tenant, keyed=self.keyed),
            )
            return {"providers": providers, "costs": costs, "tasks": tasks, "fallbacks": fallbacks,
                    "recommendations": recs}

        return export_stream(self.sessions, window, fmt=ExportFormat(format),
                             include_raw_data=include_raw_data, summary=summary, tenant=tenant)

    async def export_analytics(
        self, format: str = "json", include_raw_data: bool = False,
        *, time_window_hours: float = 24, tenant: str | None = None, now: dt.datetime | None = None,
    ) -> str:
        """The whole export as one string, as the note returns it (use export_stream for big ranges)."""
        chunks = [c async for c in self.export_stream(
            format=format, include_raw_data=include_raw_data, time_window_hours=time_window_hours,
            tenant=tenant, now=now)]
        return b"".join(chunks).decode()
