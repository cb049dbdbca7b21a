"""Recommendations carry their numbers and never propose a model the request's region rules forbid."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.analytics import RoutingAnalytics
from app.records import Outcome
from tests.analytics.conftest import store
from tests.analytics.scenario import Scenario

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def _traffic(region: str, compliance: bool) -> Scenario:
    """Chat: 40 answers by mistral-large (EU), 30 each by deepseek and vertex flash, a flaky cohere."""
    s = Scenario(NOW)
    tokens = {"input_tokens": 1000, "output_tokens": 500}
    served = [
        ("mistral", "mistral-large-latest", "0.005", 400.0, 40),
        ("deepseek", "deepseek-chat", "0.00114", 300.0, 30),
        ("vertex_ai", "gemini-2.5-flash", "0.00155", 500.0, 30),
    ]
    for provider, model, cost, latency, n in served:
        for i in range(n):
            s.request(
                ago=dt.timedelta(minutes=5 + i),
                budget="medium",
                region=region,
                compliance=compliance,
                calls=[
                    dict(
                        provider=provider,
                        model=model,
                        latency_ms=latency,
                        cost_usd=cost,
                        baseline_cost_usd="0.03",
                        quality_score=7.0 + (provider == "deepseek"),
                        **tokens,
                    )
                ],
            )
    for i in range(20):
        s.request(
            ago=dt.timedelta(minutes=5 + i),
            budget="medium",
            calls=[
                dict(
                    provider="cohere",
                    model="command-r-08-2024",
                    latency_ms=250.0,
                    cost_usd="0.0004",
                    baseline_cost_usd="0.03",
                    outcome=Outcome.SUCCESS if i % 2 else Outcome.ERROR,
                    **tokens,
                )
            ],
        )
    return s


async def _recommend(
    engine: AsyncEngine, analytics: RoutingAnalytics, region: str, compliance: bool
) -> dict[str, dict[str, object]]:
    s = _traffic(region, compliance)
    await store(engine, s.decisions, s.attempts)
    report = await analytics.recommendation_report(6, now=NOW)
    return {r["kind"]: r for r in report}


async def test_eu_compliant_traffic_is_never_sent_to_a_provider_outside_the_eu_rules(
    engine: AsyncEngine, analytics: RoutingAnalytics
) -> None:
    by_kind = await _recommend(engine, analytics, "eu", True)
    change = by_kind["routing_change"]
    # deepseek is cheaper still, but it has no EU deployment with gdpr: the engine would refuse it.
    assert (change["provider"], change["model"]) == ("vertex_ai", "gemini-2.5-flash")
    assert change["instead_of"] == {"provider": "mistral", "model": "mistral-large-latest"}
    assert change["figures"]["savings_per_1000_usd"] == 3.45
    assert change["figures"]["p95_delta_ms"] == 100.0
    assert change["message"] == (
        "🔀 send chat to vertex_ai/gemini-2.5-flash instead of "
        "mistral/mistral-large-latest: \u2212$3.45 per 1,000 requests, +100 ms p95, "
        "same success rate (100.0 % vs 100.0 %)"
    )


async def test_global_traffic_may_go_to_the_cheapest_equally_reliable_model(
    engine: AsyncEngine, analytics: RoutingAnalytics
) -> None:
    by_kind = await _recommend(engine, analytics, "global", False)
    change = by_kind["routing_change"]
    assert (change["provider"], change["figures"]["savings_per_1000_usd"]) == ("deepseek", 3.86)
    assert change["figures"]["p95_delta_ms"] == -100.0
    top = by_kind["top_performer"]
    assert (top["provider"], top["figures"]["quality_score"]) == ("deepseek", 8.0)
    cheap = by_kind["cost_effective"]
    assert (cheap["provider"], cheap["figures"]["cost_per_1000_usd"]) == ("deepseek", 1.14)
    problem = by_kind["problem_provider"]
    assert problem["provider"] == "cohere" and problem["figures"]["success_rate"] == 0.5
    assert "50.0 % is under the 90.0 % threshold" in str(problem["message"])
    saved = by_kind["savings"]["figures"]
    assert saved["requests"] == 120 and saved["baseline_cost_usd"] == 3.6


@pytest.mark.parametrize("keyed", [frozenset({"mistral", "vertex_ai", "cohere"})])
async def test_a_provider_without_a_key_is_not_recommended(
    engine: AsyncEngine, analytics: RoutingAnalytics, keyed: frozenset[str]
) -> None:
    analytics.keyed = keyed
    by_kind = await _recommend(engine, analytics, "global", False)
    assert by_kind["routing_change"]["provider"] == "vertex_ai"
    messages = await analytics.generate_recommendations(6, now=NOW)
    assert any(m.startswith("🔀 send chat to vertex_ai") for m in messages)
