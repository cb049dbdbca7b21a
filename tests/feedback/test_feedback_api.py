"""Feedback through the service: stored per tenant, moves the estimates by the formula, and the
routing with them, never past a hard constraint."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from uuid_utils import uuid7

from app.config.enums import BudgetTier, TaskType
from app.config.loader import DEFAULT_CATALOG
from app.config.settings import Settings
from app.context import ServiceContext
from app.main import create_app
from app.records import AttemptRecord, Outcome
from app.routing.engine import decide
from app.routing.index import CatalogIndex

API = "/api/brain/ai-assistant"
MASTER = "master-key-for-feedback-tests-0123456789"
CHAT_MEDIUM = {"task_type": "chat", "budget": "medium", "context_size": 2000,
               "expected_output_tokens": 500}


def _ctx(client: TestClient) -> ServiceContext:
    ctx: ServiceContext = client.app.state.ctx  # type: ignore[attr-defined]
    return ctx


def _refresh(client: TestClient) -> None:
    """Everything submitted is stored, then the estimates are recomputed (the loop's one step)."""
    ctx = _ctx(client)
    assert ctx.store is not None and ctx.quality is not None
    assert client.portal is not None
    assert client.portal.call(ctx.store.writer.flush, 10.0)
    client.portal.call(ctx.quality.refresh)


def _estimate(client: TestClient, provider: str, model: str, task: str) -> dict[str, Any]:
    body = client.get(f"{API}/analytics/quality").json()
    return next(e for e in body["estimates"]
                if (e["provider"], e["model"], e["task"]) == (provider, model, task))


def test_feedback_moves_the_estimate_and_then_the_routing(client: TestClient) -> None:
    ctx = _ctx(client)
    learning = ctx.catalog.quality_learning
    routed = [client.post(f"{API}/route", json=CHAT_MEDIUM).json() for _ in range(10)]
    p, m = routed[0]["primary_provider"], routed[0]["primary_model"]
    assert all((r["primary_provider"], r["primary_model"]) == (p, m) for r in routed)
    prior = routed[0]["expected_quality"]["score"]
    # five answers scored 6.0 by the heuristic, and ten thumbs down from callers
    ctx.recorder.submit_attempts([AttemptRecord(
        id=str(uuid7()), decision_id=r["decision_id"], attempt_order=0, provider=p, model=m,
        outcome=Outcome.SUCCESS, task_type="chat", quality_score=6.0) for r in routed[:5]])
    for r in routed:
        got = client.post(f"{API}/feedback", json={"decision_id": r["decision_id"], "thumbs": "down"})
        assert got.status_code == 201, got.text
    _refresh(client)

    k, wh, wf = learning.prior_weight, learning.heuristic_weight, learning.feedback_weight
    expected = (prior * k + wh * 5 * 6.0 + wf * 10 * 0.0) / (k + wh * 5 + wf * 10)
    row = _estimate(client, p, m, "chat")
    assert row["estimate"] == pytest.approx(expected, abs=1e-4)
    assert (row["heuristic"]["n"], row["feedback"]["n"], row["observations"]) == (5, 10, 15)
    assert row["prior"] == prior

    after = client.post(f"{API}/route", json=CHAT_MEDIUM).json()
    oracle = decide(CatalogIndex(ctx.catalog, quality_overlay={(p, m, TaskType.CHAT): expected}),
                    task_type=TaskType.CHAT, budget=BudgetTier.MEDIUM, input_tokens=2000,
                    output_tokens=500, keyed_providers=ctx.keyed_providers)
    assert [(c["provider"], c["model"]) for c in after["chain"]] == [
        (s.candidate.provider, s.candidate.model) for s in oracle.chain]
    assert (after["primary_provider"], after["primary_model"]) != (p, m)


def test_praise_never_breaks_the_budget(client: TestClient) -> None:
    ctx = _ctx(client)
    ceiling = ctx.catalog.budget_tiers[BudgetTier.MEDIUM].max_blended_price
    assert ceiling is not None
    high = client.post(f"{API}/route", json={**CHAT_MEDIUM, "budget": "high"}).json()
    star = high["chain"][0]
    assert star["blended_price"] > ceiling  # too dear for medium
    for _ in range(30):
        got = client.post(f"{API}/feedback", json={"decision_id": high["decision_id"], "score": 10})
        assert got.status_code == 201
    _refresh(client)
    row = _estimate(client, star["provider"], star["model"], "chat")
    assert row["estimate"] > row["prior"] and row["feedback"]["n"] == 30
    medium = client.post(f"{API}/route", json=CHAT_MEDIUM).json()
    assert all(c["blended_price"] <= ceiling for c in medium["chain"])
    assert (star["provider"], star["model"]) not in {(c["provider"], c["model"]) for c in medium["chain"]}
    assert any(e["model"] == star["model"] and e["reason"] == "budget" for e in medium["excluded"])


@pytest.mark.parametrize("body", [
    {"decision_id": "x", "thumbs": "up"},
    {"decision_id": "0193f0c2-7d1e-7c3a-9a51-1c2b3d4e5f60"},
    {"decision_id": "0193f0c2-7d1e-7c3a-9a51-1c2b3d4e5f60", "thumbs": "up", "score": 3},
    {"decision_id": "0193f0c2-7d1e-7c3a-9a51-1c2b3d4e5f60", "score": 11},
    {"decision_id": "0193f0c2-7d1e-7c3a-9a51-1c2b3d4e5f60", "thumbs": "sideways"},
    {"decision_id": "0193f0c2-7d1e-7c3a-9a51-1c2b3d4e5f60", "thumbs": "up", "comment": "x" * 2001},
])
def test_bad_feedback_is_422(client: TestClient, body: dict[str, Any]) -> None:
    got = client.post(f"{API}/feedback", json=body)
    assert got.status_code == 422 and "error" in got.json()


def test_unknown_decision_is_404(client: TestClient) -> None:
    got = client.post(f"{API}/feedback", json={"decision_id": str(uuid7()), "thumbs": "up"})
    assert got.status_code == 404 and got.json()["error"]["code"] == "not_found"


@pytest.fixture
def secured(provider_keys: dict[str, str], tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/router.db",
                        ROUTER_DATA_DIR=tmp_path, router_master_key=MASTER)
    with TestClient(create_app(settings)) as client:
        yield client


def _tenant_key(client: TestClient, name: str) -> dict[str, str]:
    admin = {"authorization": f"Bearer {MASTER}"}
    assert client.post(f"{API}/admin/tenants", json={"name": name}, headers=admin).status_code == 201
    made = client.post(f"{API}/admin/tenants/{name}/keys", json={}, headers=admin)
    assert made.status_code == 201, made.text
    return {"authorization": f"Bearer {made.json()['key']}"}


def test_a_tenant_rates_only_its_own_decisions(secured: TestClient) -> None:
    a, b = _tenant_key(secured, "acme"), _tenant_key(secured, "globex")
    decision = secured.post(f"{API}/route", json=CHAT_MEDIUM, headers=a).json()["decision_id"]
    body = {"decision_id": decision, "score": 7.5, "comment": "fine"}
    assert secured.post(f"{API}/feedback", json=body).status_code == 401
    stranger = secured.post(f"{API}/feedback", json=body, headers=b)
    assert stranger.status_code == 404
    own = secured.post(f"{API}/feedback", json=body, headers=a)
    assert own.status_code == 201, own.text
    assert own.json()["decision_id"] == decision
    assert secured.get(f"{API}/analytics/quality", headers=a).status_code == 200


def test_the_lifespan_refreshes_in_the_background(provider_keys: dict[str, str], tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_CATALOG.read_text())
    data["quality_learning"] = {**data["quality_learning"], "refresh_s": 0.05}
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/router.db",
                        ROUTER_DATA_DIR=tmp_path, router_config=path)
    with TestClient(create_app(settings)) as client:
        ctx = _ctx(client)
        routed = client.post(f"{API}/route", json=CHAT_MEDIUM).json()
        key = (routed["primary_provider"], routed["primary_model"], TaskType.CHAT)
        before = ctx.router.index
        assert client.post(f"{API}/feedback", json={"decision_id": routed["decision_id"],
                                                   "thumbs": "down"}).status_code == 201
        deadline = time.monotonic() + 10
        while key not in ctx.router.index.quality_overlay and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ctx.router.index is not before
        k, wf = ctx.catalog.quality_learning.prior_weight, ctx.catalog.quality_learning.feedback_weight
        prior = routed["expected_quality"]["score"]
        assert ctx.router.index.quality_overlay[key] == pytest.approx(prior * k / (k + wf))
        quality = ctx.quality
        assert quality is not None and quality.running
    assert not quality.running  # stopped with the service
