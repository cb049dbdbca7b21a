"""Experiments through the service: each decision records its arm, the arm's policy routes it,
and analytics/experiments compares the arms with the stated intervals."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from uuid_utils import uuid7

from app.config.catalog import Catalog
from app.config.loader import DEFAULT_CATALOG, load_catalog
from app.config.settings import Settings
from app.context import ServiceContext
from app.experiments.assignment import assign
from app.main import create_app
from app.records import AttemptRecord, DecisionRecord, DecisionStatus, Outcome

API = "/api/brain/ai-assistant"
ROUTE = {"task_type": "chat", "budget": "medium", "context_size": 2000}


@pytest.fixture
def experiment_catalog(tmp_path: Path) -> Path:
    data = yaml.safe_load(DEFAULT_CATALOG.read_text())
    data["experiments"] = [{"name": "ab", "enabled": True, "unit": "request", "variants": [
        {"name": "control", "weight": 50},
        {"name": "strong", "weight": 50, "strategy": "quality_first", "quality_target": 0.9}]}]
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def client(provider_keys: dict[str, str], tmp_path: Path, experiment_catalog: Path) -> Iterator[TestClient]:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/router.db",
                        ROUTER_DATA_DIR=tmp_path, router_config=experiment_catalog)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _ctx(client: TestClient) -> ServiceContext:
    ctx: ServiceContext = client.app.state.ctx  # type: ignore[attr-defined]
    return ctx


def _flush(client: TestClient) -> None:
    ctx = _ctx(client)
    assert ctx.store is not None and client.portal is not None
    assert client.portal.call(ctx.store.writer.flush, 10.0)


def test_each_decision_routes_and_records_its_arm(client: TestClient, experiment_catalog: Path) -> None:
    catalog: Catalog = load_catalog(experiment_catalog)
    experiment = catalog.experiments[0]
    seen: dict[str, int] = {}
    for _ in range(60):
        body = client.post(f"{API}/route", json=ROUTE).json()
        arm = assign(experiment, f"request:{body['decision_id']}")
        assert body["variant"] == f"ab/{arm.name}"
        expected = "quality_first" if arm.name == "strong" else "balanced"
        assert body["routing_strategy"] == expected
        assert any("quality target 0.90" in r for r in body["reasons"]) == (arm.name == "strong")
        seen[arm.name] = seen.get(arm.name, 0) + 1
    assert set(seen) == {"control", "strong"}
    _flush(client)
    report = client.get(f"{API}/analytics/experiments").json()
    arms = {v["name"]: v for v in report["experiments"][0]["variants"]}
    assert {name: arms[name]["decisions"] for name in seen} == seen


def _decision(variant: str, status: DecisionStatus, tenant: str | None = None) -> DecisionRecord:
    return DecisionRecord(id=str(uuid7()), task_type="chat", budget="medium", region="global",
                          requires_sla=False, requires_compliance=False, input_tokens=100,
                          output_tokens=50, status=status, tenant=tenant, variant=variant)


def _attempt(decision: DecisionRecord, cost: str, latency: float, quality: float | None,
             outcome: Outcome = Outcome.SUCCESS) -> AttemptRecord:
    return AttemptRecord(id=str(uuid7()), decision_id=decision.id, attempt_order=0,
                         provider="deepseek", model="deepseek-chat", outcome=outcome,
                         task_type="chat", latency_ms=latency, cost_usd=Decimal(cost),
                         quality_score=quality, tenant=decision.tenant)


def _interval(values: list[float]) -> tuple[float, float, float]:
    mean = statistics.fmean(values)
    half = 1.96 * statistics.stdev(values) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def test_comparison_figures_by_hand(client: TestClient) -> None:
    ctx = _ctx(client)
    control = [_decision("ab/control", DecisionStatus.SUCCEEDED) for _ in range(8)]
    control += [_decision("ab/control", DecisionStatus.FAILED) for _ in range(2)]
    strong = [_decision("ab/strong", DecisionStatus.SUCCEEDED, tenant="t1") for _ in range(5)]
    costs = [f"0.00{i + 1}" for i in range(10)]
    latencies = [100.0 + 10 * i for i in range(10)]
    qualities = [5.0 + (i % 4) for i in range(10)]
    attempts = [_attempt(d, costs[i], latencies[i], qualities[i] if i < 8 else None,
                         Outcome.SUCCESS if i < 8 else Outcome.ERROR) for i, d in enumerate(control)]
    attempts += [_attempt(d, "0.01", 300.0, 9.0) for d in strong]
    for d in control + strong:
        ctx.recorder.submit_decision(d)
    ctx.recorder.submit_attempts(attempts)
    _flush(client)
    for d, score in zip(control[:4], [2.0, 4.0, 6.0, 10.0], strict=True):
        rated = client.post(f"{API}/feedback", json={"decision_id": d.id, "score": score})
        assert rated.status_code == 201
    rated = client.post(f"{API}/feedback", json={"decision_id": strong[0].id, "thumbs": "up"})
    assert rated.status_code == 201

    report = client.get(f"{API}/analytics/experiments").json()
    assert "normal approximation" in report["interval"]
    arms: dict[str, Any] = {v["name"]: v for v in report["experiments"][0]["variants"]}
    c = arms["control"]
    assert c["decisions"] == 10
    p = 0.8
    half = 1.96 * math.sqrt(p * (1 - p) / 10)
    assert c["success_rate"] == pytest.approx(
        {"n": 10, "rate": p, "low": p - half, "high": min(1.0, p + half)})
    for name, values in (("cost_usd", [float(x) for x in costs]), ("latency_ms", latencies),
                         ("quality_score", qualities[:8]), ("feedback", [2.0, 4.0, 6.0, 10.0])):
        mean, low, high = _interval(values)
        assert c[name] == pytest.approx({"n": len(values), "mean": mean, "low": low, "high": high}), name
    s = arms["strong"]
    assert s["success_rate"]["rate"] == 1.0
    assert s["feedback"] == {"n": 1, "mean": 10.0, "low": None, "high": None}
    assert s["cost_usd"]["mean"] == pytest.approx(0.01)

    only_t1 = client.get(f"{API}/analytics/experiments", params={"tenant": "t1"}).json()
    arms = {v["name"]: v for v in only_t1["experiments"][0]["variants"]}
    assert arms["control"]["decisions"] == 0 and arms["strong"]["decisions"] == 5
