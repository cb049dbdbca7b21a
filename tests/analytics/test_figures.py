"""Every figure of every report, checked against hand-computed values, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.analytics import RoutingAnalytics
from app.analytics.window import Window
from tests.analytics import scenario
from tests.analytics.conftest import store

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def money(value: float) -> Decimal:
    return Decimal(repr(value))


@pytest.fixture
async def known(engine: AsyncEngine) -> scenario.Scenario:
    s = scenario.build(NOW)
    await store(engine, s.decisions, s.attempts)
    return s


async def test_cost_analysis_is_exact_against_the_baseline(
    analytics: RoutingAnalytics, known: object
) -> None:
    c = await analytics.get_cost_analysis(time_window_hours=24, now=NOW)
    assert c["requests"] == 5
    assert money(c["total_cost_usd"]) == Decimal("0.05363")
    assert money(c["baseline_cost_usd"]) == Decimal("0.13")
    assert money(c["savings_usd"]) == Decimal("0.07637")
    assert c["savings_percent"] == 58.75
    assert {k: money(v) for k, v in c["by_provider"].items()} == {
        "openai": Decimal("0.05"),
        "mistral": Decimal("0.002"),
        "deepseek": Decimal("0.00163"),
        "anthropic": Decimal("0.0"),
        "gemini": Decimal("0.0"),
    }
    assert {k: money(v) for k, v in c["by_task"].items()} == {
        "summarization": Decimal("0.05"),
        "chat": Decimal("0.00323"),
        "code": Decimal("0.0004"),
    }
    assert {k: money(v) for k, v in c["by_tenant"].items()} == {
        "globex": Decimal("0.05"),
        "acme": Decimal("0.00323"),
        "(none)": Decimal("0.0004"),
    }
    assert sum(p["requests"] for p in c["by_day"]) == 5
    assert sum(money(p["total_cost_usd"]) for p in c["by_day"]) == Decimal("0.05363")
    assert c["series"]["granularity"] == "hour"
    assert [p["requests"] for p in c["series"]["points"]] == [1, 1, 1, 1, 1]
    assert [s["provider"] for s in c["top_spenders"]][:3] == ["openai", "mistral", "deepseek"]
    assert c["top_spenders"][0]["share_percent"] == 93.23
    # The note's names for the same figures.
    assert c["total_cost"] == c["total_cost_usd"] and c["provider_breakdown"] == c["by_provider"]


async def test_a_longer_window_takes_in_older_records_exactly(
    analytics: RoutingAnalytics, known: object
) -> None:
    c = await analytics.get_cost_analysis(time_window_hours=48, now=NOW)
    assert c["requests"] == 6
    assert money(c["total_cost_usd"]) == Decimal("1.55363")
    assert money(c["baseline_cost_usd"]) == Decimal("2.63")
    assert c["savings_percent"] == 40.93


async def test_tenant_sees_only_its_own_costs(analytics: RoutingAnalytics, known: object) -> None:
    c = await analytics.get_cost_analysis(time_window_hours=24, tenant="acme", now=NOW)
    assert c["requests"] == 2
    assert money(c["total_cost_usd"]) == Decimal("0.00323")
    assert money(c["baseline_cost_usd"]) == Decimal("0.06")
    assert list(c["by_tenant"]) == ["acme"]
    p = await analytics.get_provider_analytics("openai", time_window_hours=24, tenant="acme", now=NOW)
    assert p["requests"] == 0 and p["total_cost_usd"] == 0.0


@pytest.mark.parametrize("hours", [6, 24])
async def test_provider_figures(analytics: RoutingAnalytics, known: object, hours: int) -> None:
    """6 hours reads raw rows (exact p95); 24 hours reads roll-ups and raw edges (histogram p95)."""
    d = await analytics.get_provider_analytics("deepseek", time_window_hours=hours, now=NOW)
    assert d["requests"] == 4 and d["successes"] == 2
    assert d["success_rate"] == 0.5
    assert d["avg_response_time_ms"] == 587.5
    assert money(d["total_cost_usd"]) == Decimal("0.00163")
    assert money(d["baseline_cost_usd"]) == Decimal("0.05")
    assert d["quality_score"] == 8.0
    assert d["fallback_rate"] == 0.25
    assert d["failures"] == {"error": 1, "timeout": 1, "rate_limited": 0}
    assert d["input_tokens"] == 1800 and d["output_tokens"] == 700
    if hours == 6:
        # percentile_cont over [50, 100, 200, 2000]: rank 2.85 -> 200 + 0.85 * 1800.
        assert d["p95_method"] == "exact" and d["p95_response_time_ms"] == 1730.0
    else:
        assert d["p95_method"] == "histogram"
        assert abs(d["p95_response_time_ms"] - 1730.0) / 1730.0 < 0.19
    m = await analytics.get_provider_analytics("mistral", time_window_hours=hours, now=NOW)
    assert (m["requests"], m["success_rate"], m["avg_response_time_ms"], m["fallback_rate"]) == (
        2,
        0.5,
        155.0,
        1.0,
    )
    assert m["quality_score"] == 7.0 and money(m["total_cost_usd"]) == Decimal("0.002")
    if hours == 6:
        assert m["p95_response_time_ms"] == 285.5


async def test_provider_list_and_ratings(analytics: RoutingAnalytics, known: object) -> None:
    items = await analytics.get_providers(time_window_hours=6, now=NOW)
    by_name = {p["provider"]: p for p in items}
    assert [p["provider"] for p in items][:3] == ["deepseek", "mistral", "openai"]
    assert by_name["openai"]["rating"] == 5 and by_name["openai"]["p95_response_time_ms"] == 1000.0
    assert by_name["deepseek"]["rating"] == 1
    assert by_name["gemini"]["requests"] == 0 and by_name["gemini"]["skipped"] == 1
    assert by_name["gemini"]["p95_response_time_ms"] is None


async def test_task_distribution(analytics: RoutingAnalytics, known: object) -> None:
    t = await analytics.get_task_distribution(24, now=NOW)
    assert t["decisions"] == 7
    chat = t["tasks"][0]
    assert chat["task_type"] == "chat" and chat["decisions"] == 4
    assert chat["by_status"] == {"routed": 1, "rejected": 0, "succeeded": 2, "failed": 1}
    assert chat["requests"] == 3 and chat["success_rate"] == round(2 / 3, 6)
    assert money(chat["total_cost_usd"]) == Decimal("0.00323")
    assert chat["answered_by"] == [
        {"provider": "deepseek", "requests": 1},
        {"provider": "mistral", "requests": 1},
    ]
    vision = next(x for x in t["tasks"] if x["task_type"] == "vision")
    assert vision["by_status"]["rejected"] == 1 and vision["requests"] == 0
    assert round(sum(x["share"] for x in t["tasks"]), 5) == 1.0


async def test_fallbacks_and_why_the_earlier_calls_failed(analytics: RoutingAnalytics, known: object) -> None:
    f = await analytics.get_fallbacks(24, now=NOW)
    assert (f["requests"], f["answered"], f["answered_by_fallback"]) == (5, 4, 2)
    assert f["fallback_rate"] == 0.5
    p = {x["provider"]: x for x in f["providers"]}
    assert (p["mistral"]["reached_as_fallback"], p["mistral"]["fallback_successes"]) == (2, 1)
    assert (p["deepseek"]["reached_as_fallback"], p["deepseek"]["fallback_successes"]) == (1, 1)
    assert p["deepseek"]["failure_reasons"] == [
        {"outcome": "error", "error_class": "server_error", "count": 1, "as_fallback": 0},
        {"outcome": "timeout", "error_class": "timeout", "count": 1, "as_fallback": 0},
    ]
    assert p["gemini"]["failure_reasons"] == [
        {"outcome": "skipped", "error_class": "no_key", "count": 1, "as_fallback": 1}
    ]
    only_code = await analytics.get_fallbacks(24, task_type="code", now=NOW)
    assert only_code["requests"] == 1 and only_code["answered_by_fallback"] == 1


async def test_decisions_pages_and_filters(analytics: RoutingAnalytics, known: scenario.Scenario) -> None:
    window = Window.last(24, now=NOW)
    seen, cursor, pages = [], None, 0
    while True:
        page = await analytics.get_decisions(window, limit=3, cursor=cursor)
        seen += [d["decision_id"] for d in page["decisions"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    expected = [d.id for d in sorted(known.decisions[:7], key=lambda d: d.created_at, reverse=True)]
    assert seen == expected and pages == 3
    mistral = await analytics.get_decisions(window, provider="mistral")
    assert [d["decision_id"] for d in mistral["decisions"]] == [known.decisions[1].id, known.decisions[3].id]
    failed = (await analytics.get_decisions(window, status="failed"))["decisions"]
    assert [d["decision_id"] for d in failed] == [known.decisions[3].id]
    assert [a["outcome"] for a in failed[0]["attempts"]] == ["timeout", "rate_limited", "skipped"]
    assert failed[0]["chain"][0]["provider"] == "deepseek" and failed[0]["excluded"][0]["reason"] == "budget"
    code = (await analytics.get_decisions(window, task_type="code", tenant=None))["decisions"]
    assert len(code) == 1 and money(code[0]["attempts"][1]["cost_usd"]) == Decimal("0.0004")
    assert (await analytics.get_decisions(window, tenant="globex", task_type="code"))["decisions"] == []
