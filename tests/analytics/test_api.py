"""The HTTP contract: SPEC section 7's fields, 422 with the allowed values, 404, paging, export formats."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from app.config.settings import Settings
from app.main import create_app
from app.store.engine import create_engine
from tests.analytics import scenario
from tests.analytics.conftest import store

API = "/api/brain/ai-assistant/analytics"


@pytest.fixture
def known(db_url: str) -> scenario.Scenario:
    s = scenario.build(dt.datetime.now(dt.UTC))

    async def write() -> None:
        engine = create_engine(db_url)
        try:
            await store(engine, s.decisions, s.attempts)
        finally:
            await engine.dispose()

    asyncio.run(write())
    return s


@pytest.fixture
def api(
    db_url: str, known: scenario.Scenario, tmp_path: Path, provider_keys: dict[str, str]
) -> Iterator[TestClient]:
    settings = Settings(database_url=db_url, ROUTER_DATA_DIR=tmp_path)
    with TestClient(create_app(settings)) as client:
        yield client


def money(value: float) -> Decimal:
    return Decimal(repr(value))


def test_costs_contract(api: TestClient) -> None:
    body = api.get(f"{API}/costs", params={"window_hours": 24}).json()
    for name in (
        "window_hours",
        "requests",
        "total_cost_usd",
        "baseline_cost_usd",
        "savings_usd",
        "savings_percent",
        "by_provider",
        "by_task",
        "by_tenant",
        "by_day",
    ):
        assert name in body
    assert body["window_hours"] == 24 and body["requests"] == 5
    assert money(body["total_cost_usd"]) == Decimal("0.05363")
    assert money(body["savings_usd"]) == Decimal("0.07637") and body["savings_percent"] == 58.75
    assert "total_cost" not in body  # the library's aliases stay out of the HTTP contract


def test_provider_contract_and_unknown_provider(api: TestClient) -> None:
    body = api.get(f"{API}/providers/deepseek", params={"window_hours": 6}).json()
    assert {
        k: body[k]
        for k in (
            "provider",
            "requests",
            "success_rate",
            "avg_response_time_ms",
            "p95_response_time_ms",
            "quality_score",
            "fallback_rate",
        )
    } == {
        "provider": "deepseek",
        "requests": 4,
        "success_rate": 0.5,
        "avg_response_time_ms": 587.5,
        "p95_response_time_ms": 1730.0,
        "quality_score": 8.0,
        "fallback_rate": 0.25,
    }
    assert money(body["total_cost_usd"]) == Decimal("0.00163")
    assert [m["model"] for m in body["models"]] == ["deepseek-chat"]
    missing = api.get(f"{API}/providers/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert "deepseek" in missing.json()["error"]["details"]["known"]
    quiet = api.get(f"{API}/providers/cohere").json()
    assert quiet["requests"] == 0 and quiet["p95_response_time_ms"] is None


@pytest.mark.parametrize(
    ("path", "params", "field", "allowed"),
    [
        (
            "/providers",
            {"order_by": "fastest"},
            "query.order_by",
            ["requests", "success_rate", "cost", "p95", "quality", "name"],
        ),
        ("/export", {"format": "xml"}, "query.format", ["json", "csv", "ndjson"]),
        ("/decisions", {"outcome": "great"}, "query.outcome", ["routed", "rejected", "succeeded", "failed"]),
        ("/fallbacks", {"task_type": "poetry"}, "query.task_type", None),
    ],
)
def test_bad_enums_get_422_with_the_allowed_values(
    api: TestClient, path: str, params: dict[str, str], field: str, allowed: list[str] | None
) -> None:
    r = api.get(API + path, params=params)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "invalid_request"
    f = err["details"]["fields"][0]
    assert f["field"] == field
    if allowed is not None:
        assert f["allowed"] == allowed
    else:
        assert "chat" in f["allowed"]


@pytest.mark.parametrize("hours", ["0", "2161", "abc"])
def test_window_is_bounded(api: TestClient, hours: str) -> None:
    r = api.get(f"{API}/costs", params={"window_hours": hours})
    assert r.status_code == 422
    assert r.json()["error"]["details"]["fields"][0]["field"] == "query.window_hours"


def test_decisions_filters_cursor_and_bad_inputs(api: TestClient, known: scenario.Scenario) -> None:
    first = api.get(f"{API}/decisions", params={"limit": 4}).json()
    assert len(first["decisions"]) == 4 and first["next_cursor"]
    rest = api.get(f"{API}/decisions", params={"limit": 4, "cursor": first["next_cursor"]}).json()
    assert len(rest["decisions"]) == 3 and rest["next_cursor"] is None
    d = api.get(f"{API}/decisions", params={"provider": "mistral", "outcome": "failed"}).json()["decisions"]
    assert [x["decision_id"] for x in d] == [known.decisions[3].id]
    assert api.get(f"{API}/decisions", params={"cursor": "garbage"}).status_code == 422
    bad = api.get(f"{API}/decisions", params={"provider": "nope"})
    assert bad.status_code == 422 and "deepseek" in bad.json()["error"]["details"]["fields"][0]["allowed"]
    assert api.get(f"{API}/decisions", params={"limit": 201}).status_code == 422
    assert api.get(f"{API}/decisions", params={"since": "2025-01-01T00:00:00"}).status_code == 422
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2, minutes=30)).isoformat()
    recent = api.get(f"{API}/decisions", params={"since": since}).json()["decisions"]
    assert [x["decision_id"] for x in recent] == [known.decisions[0].id, known.decisions[1].id]


def test_tenant_filter(api: TestClient) -> None:
    body = api.get(f"{API}/costs", params={"tenant": "globex"}).json()
    assert body["requests"] == 2 and money(body["total_cost_usd"]) == Decimal("0.05")


def test_export_json_with_raw_data(api: TestClient, known: scenario.Scenario) -> None:
    r = api.get(f"{API}/export", params={"format": "json", "include_raw_data": "true"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    doc = orjson.loads(r.content)
    assert money(doc["costs"]["total_cost_usd"]) == Decimal("0.05363")
    assert {p["provider"] for p in doc["providers"]} >= {"deepseek", "mistral", "openai"}
    assert len(doc["decisions"]) == 7
    assert sum(len(d["attempts"]) for d in doc["decisions"]) == 9
    summary = orjson.loads(api.get(f"{API}/export").content)
    assert "decisions" not in summary and summary["costs"]["requests"] == 5


def test_export_ndjson_is_elasticsearch_bulk(api: TestClient, known: scenario.Scenario) -> None:
    r = api.get(f"{API}/export", params={"format": "ndjson", "include_raw_data": "true"})
    assert r.headers["content-type"] == "application/x-ndjson"
    lines = [orjson.loads(x) for x in r.content.splitlines()]
    assert len(lines) % 2 == 0
    actions, docs = lines[0::2], lines[1::2]
    assert all(set(a) == {"index"} and {"_index", "_id"} <= set(a["index"]) for a in actions)
    decisions = [
        d for a, d in zip(actions, docs, strict=True) if a["index"]["_index"] == "llm-router-decisions"
    ]
    assert sorted(d["decision_id"] for d in decisions) == sorted(x.id for x in known.decisions[:7])
    assert all(
        a["index"]["_id"] == d["decision_id"]
        for a, d in zip(actions, docs, strict=True)
        if a["index"]["_index"] == "llm-router-decisions"
    )
    assert all("@timestamp" in d for d in docs)


def test_export_csv(api: TestClient) -> None:
    table = list(csv.DictReader(io.StringIO(api.get(f"{API}/export", params={"format": "csv"}).text)))
    deepseek = next(r for r in table if r["provider"] == "deepseek")
    assert deepseek["requests"] == "4" and Decimal(deepseek["total_cost_usd"]) == Decimal("0.00163")
    raw = api.get(f"{API}/export", params={"format": "csv", "include_raw_data": "true"}).text
    rows = list(csv.DictReader(io.StringIO(raw)))
    assert len(rows) == 9 + 2  # nine attempts, and one row each for the two decisions without any
    assert sum(Decimal(r["cost_usd"]) for r in rows if r["cost_usd"]) == Decimal("0.05363")


def test_tasks_fallbacks_recommendations_answer(api: TestClient) -> None:
    assert api.get(f"{API}/tasks").json()["decisions"] == 7
    assert api.get(f"{API}/fallbacks").json()["answered_by_fallback"] == 2
    rec = api.get(f"{API}/recommendations").json()
    assert rec["messages"] and rec["recommendations"][-1]["kind"] == "savings"
    assert rec["recommendations"][-1]["figures"]["savings_percent"] == 40.93


def test_a_tenant_key_sees_only_its_own_records(
    db_url: str, known: scenario.Scenario, tmp_path: Path, provider_keys: dict[str, str]
) -> None:
    master = "master-key-for-analytics-tests-0123456789"
    settings = Settings(database_url=db_url, ROUTER_DATA_DIR=tmp_path, ROUTER_MASTER_KEY=master)
    with TestClient(create_app(settings)) as client:
        admin = {"authorization": f"Bearer {master}"}
        assert client.post("/api/brain/ai-assistant/admin/tenants", json={"name": "acme"},
                           headers=admin).status_code == 201
        made = client.post("/api/brain/ai-assistant/admin/tenants/acme/keys", json={}, headers=admin)
        tenant = {"authorization": f"Bearer {made.json()['key']}"}
        assert client.get(f"{API}/costs").status_code == 401
        mine = client.get(f"{API}/costs", params={"tenant": "globex"}, headers=tenant).json()
        assert mine["requests"] == 2 and list(mine["by_tenant"]) == ["acme"]
        assert money(mine["total_cost_usd"]) == Decimal("0.00323")
        decisions = client.get(f"{API}/decisions", headers=tenant).json()["decisions"]
        assert {d["tenant"] for d in decisions} == {"acme"}
        everyone = client.get(f"{API}/costs", headers=admin).json()
        assert everyone["requests"] == 5
        narrowed = client.get(f"{API}/costs", params={"tenant": "globex"}, headers=admin).json()
        assert narrowed["requests"] == 2 and money(narrowed["total_cost_usd"]) == Decimal("0.05")
