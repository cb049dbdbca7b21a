"""The design note's examples, through the HTTP endpoint, as SPEC section 4 states them."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config.catalog import Catalog

ROUTE = "/api/brain/ai-assistant/route"


def _route(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post(ROUTE, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_chat_low_routes_to_deepseek(client: TestClient) -> None:
    d = _route(client, task_type="chat", budget="low", context_size=2000)
    assert d["primary_provider"] == "deepseek"
    assert d["primary_model"] == "deepseek-chat"
    assert d["routing_strategy"] == "cost_optimized"
    # 2000 input x $0.48/M + 500 output x $1.32/M, against GPT-4 at $20/M for 2500 tokens
    assert d["estimated_cost"]["estimated_cost_usd"] == 0.00162
    assert d["estimated_cost"]["baseline_cost_usd"] == 0.05
    assert d["estimated_cost"]["estimated_cost_per_million_tokens"] == 0.69
    assert d["estimated_cost"]["estimated_savings_percent"] == 96.8
    assert d["expected_quality"] == {"score": 7.8, "scale": 10}
    assert d["fallback_providers"] == [c["provider"] for c in d["chain"][1:]]


def test_reasoning_high_routes_to_anthropic_top_model(client: TestClient, catalog: Catalog) -> None:
    d = _route(client, task_type="reasoning", budget="high")
    assert d["primary_provider"] == "anthropic"
    top = max(catalog.providers["anthropic"].models, key=lambda m: m.quality.get("reasoning", 0))
    assert d["primary_model"] == top.name == "claude-opus-4-1"
    assert d["routing_strategy"] == "quality_first"


def test_eu_compliance_routes_to_mistral_then_azure_eu(client: TestClient) -> None:
    d = _route(client, task_type="chat", budget="medium", region="eu", requires_compliance=True)
    assert d["primary_provider"] == "mistral"
    azure = [c for c in d["chain"] if c["provider"] == "azure_openai"]
    assert azure and all(c["region"] == "eu" for c in azure)
    assert all(c["region"] == "eu" for c in d["chain"])
    reasons = {e["provider"]: e["reason"] for e in d["excluded"] if e["provider"] == "deepseek"}
    assert reasons["deepseek"] in {"region", "compliance", "capability", "budget"}


def test_rag_medium_routes_to_cohere(client: TestClient) -> None:
    d = _route(client, task_type="rag", budget="medium")
    assert d["primary_provider"] == "cohere"


def test_large_summarization_routes_to_gemini_with_big_windows_only(client: TestClient) -> None:
    d = _route(client, task_type="summarization", budget="medium", context_size=500_000)
    assert d["primary_provider"] == "gemini"
    assert d["chain"]
    assert all(c["context_window"] >= 500_000 + 500 for c in d["chain"])
    context_excluded = {e["model"] for e in d["excluded"] if e["reason"] == "context"}
    assert "claude-sonnet-4-5" in context_excluded


def test_free_budget_uses_only_huggingface(client: TestClient) -> None:
    d = _route(client, task_type="chat", budget="free")
    assert {c["provider"] for c in d["chain"]} == {"huggingface"}
    assert all(c["blended_price"] == 0 for c in d["chain"])
    assert d["estimated_cost"]["estimated_cost_usd"] == 0


def test_prompt_is_estimated_into_context_size(client: TestClient) -> None:
    d = _route(client, task_type="chat", budget="low", prompt="x" * 4000)
    assert d["estimated_cost"]["input_tokens"] == 1000


def test_decision_ids_are_unique_uuid7(client: TestClient) -> None:
    ids = {_route(client, task_type="chat", budget="low")["decision_id"] for _ in range(5)}
    assert len(ids) == 5
    assert all(i[14] == "7" for i in ids)


def test_no_eligible_provider_explains_every_exclusion(client: TestClient, catalog: Catalog) -> None:
    response = client.post(ROUTE, json={"task_type": "vision", "budget": "free"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "no_eligible_provider"
    excluded = error["details"]["excluded"]
    total = sum(
        len(p.all_deployments()) if m.deployments is None else len(m.deployments)
        for p in catalog.providers.values() for m in p.models
    )
    assert len(excluded) == total
    assert {e["reason"] for e in excluded} <= {"capability", "budget"}


def test_providers_without_keys_are_excluded_with_no_key(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    from app.main import create_app

    monkeypatch.delenv("DEEPSEEK_API_KEY")
    with TestClient(create_app(settings)) as fresh:
        d = _route(fresh, task_type="chat", budget="low", context_size=2000)
    assert d["primary_provider"] != "deepseek"
    reasons = {e["model"]: e["reason"] for e in d["excluded"] if e["provider"] == "deepseek"}
    assert reasons == {"deepseek-chat": "no_key", "deepseek-reasoner": "capability"}


