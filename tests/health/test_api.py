"""GET /api/brain/ai-assistant/analytics/health and GET /metrics on the in-process service."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from app.config.catalog import Catalog
from app.context import ServiceContext
from tests.health.factories import failure

HEALTH = "/api/brain/ai-assistant/analytics/health"


def test_health_lists_every_provider_with_the_contract_fields(client: TestClient, catalog: Catalog) -> None:
    providers = client.get(HEALTH).json()["providers"]
    assert [p["name"] for p in providers] == list(catalog.providers)
    fields = {"name", "state", "success_rate", "consecutive_failures", "mean_latency_ms",
              "cooldown_until", "last_error"}
    assert all(fields <= p.keys() for p in providers)
    assert {p["state"] for p in providers} == {"closed"}


def test_an_ejection_shows_in_the_endpoint_and_the_metrics(client: TestClient) -> None:
    ctx: ServiceContext = client.app.state.ctx  # type: ignore[attr-defined]
    assert ctx.health is not None
    for _ in range(3):
        ctx.health.observe(failure("cohere", status=503))
    cohere = {p["name"]: p for p in client.get(HEALTH).json()["providers"]}["cohere"]
    assert cohere["state"] == "open" and cohere["last_error"] == "ProviderError HTTP 503"
    until = dt.datetime.fromisoformat(cohere["cooldown_until"])
    assert 29 <= (until - dt.datetime.now(dt.UTC)).total_seconds() <= 33
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'llm_router_circuit_state{provider="cohere"} 2.0' in metrics.text
    assert 'llm_router_provider_health{provider="cohere"} 0.0' in metrics.text
    assert client.post("/api/brain/ai-assistant/route",
                       json={"task_type": "rag", "budget": "medium"}).json()["primary_provider"] != "cohere"


def test_a_decision_is_counted_in_the_decision_latency_histogram_by_strategy(client: TestClient) -> None:
    def count(text: str, strategy: str) -> float:
        prefix = f'llm_router_decision_latency_seconds_count{{strategy="{strategy}"}} '
        return sum(float(line[len(prefix):]) for line in text.splitlines() if line.startswith(prefix))

    body = client.post("/api/brain/ai-assistant/route", json={"task_type": "chat", "budget": "low"}).json()
    strategy = body["routing_strategy"]
    before = count(client.get("/metrics").text, strategy)
    for _ in range(3):
        client.post("/api/brain/ai-assistant/route", json={"task_type": "chat", "budget": "low"})
    assert count(client.get("/metrics").text, strategy) == before + 3
