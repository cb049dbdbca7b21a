"""The design note's library calls: record a decision through the store's writer, then read it back."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine
from uuid_utils import uuid7

from app.analytics import RoutingAnalytics
from app.analytics.window import Window
from app.config.catalog import Catalog
from app.execution.result import ExecutionResult
from app.providers.base import Usage
from app.records import AttemptRecord, Outcome
from app.routing.router import SmartLLMRouter
from app.routing.schemas import RouteRequest
from app.store.engine import create_sessionmaker
from app.store.spool import Spool
from app.store.writer import RecordWriter


async def test_record_then_query_with_the_notes_names(
    engine: AsyncEngine, catalog: Catalog, tmp_path: Path
) -> None:
    router = SmartLLMRouter(catalog=catalog)
    decision = router.decide(
        RouteRequest(task_type="chat", budget="low", context_size=2000, tenant="acme"),
        keyed=frozenset(catalog.providers),
    )
    primary, second = decision.chain[0].candidate, decision.chain[1].candidate
    attempts = [
        AttemptRecord(
            id=str(uuid7()),
            decision_id=decision.decision_id,
            attempt_order=0,
            provider=primary.provider,
            model=primary.model,
            outcome=Outcome.TIMEOUT,
            task_type="chat",
            latency_ms=900.0,
            error_class="timeout",
            tenant="acme",
        ),
        AttemptRecord(
            id=str(uuid7()),
            decision_id=decision.decision_id,
            attempt_order=1,
            provider=second.provider,
            model=second.model,
            outcome=Outcome.SUCCESS,
            task_type="chat",
            latency_ms=250.0,
            input_tokens=2000,
            output_tokens=400,
            cost_usd=Decimal("0.00074"),
            baseline_cost_usd=Decimal("0.048"),
            quality_score=6.5,
            is_fallback=True,
            tenant="acme",
        ),
    ]
    result = ExecutionResult(
        decision=decision,
        provider=second.provider,
        model=second.model,
        content="ok",
        attempts=attempts,
        usage=Usage(2000, 400),
        cost_usd=Decimal("0.00074"),
        baseline_cost_usd=Decimal("0.048"),
        cost_estimated=False,
        quality_score=6.5,
        latency_ms=1150.0,
    )
    sessions = create_sessionmaker(engine)
    writer = RecordWriter(sessions, Spool(tmp_path / "spool"))
    await writer.start()
    analytics = RoutingAnalytics(sessions, catalog=catalog, recorder=writer)
    analytics.record_routing_decision(decision, result)
    assert await writer.close(5)

    stats = await analytics.get_provider_analytics(second.provider)
    assert (stats["success_rate"], stats["avg_response_time"], stats["quality_score"]) == (1.0, 0.25, 6.5)
    assert Decimal(repr(stats["total_cost"])) == Decimal("0.00074")
    cost = await analytics.get_cost_analysis(time_window_hours=24)
    assert cost["savings_percent"] == 98.46
    assert cost["provider_breakdown"] == {second.provider: 0.00074, primary.provider: 0.0}
    page = await analytics.get_decisions(Window.last(1))
    assert page["decisions"][0]["status"] == "succeeded"
    assert page["decisions"][0]["chain"][0]["provider"] == primary.provider
    messages = await analytics.generate_recommendations()
    assert messages[-1].startswith("💵 Routing saved $0.05 (98.46 %)")
    exported = await analytics.export_analytics(format="json", include_raw_data=True)
    assert decision.decision_id in exported and '"savings_percent":98.46' in exported
