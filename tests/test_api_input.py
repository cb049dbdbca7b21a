"""Bad input gets a 4xx in the error envelope that says what to change; the catalog endpoint."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config.settings import Settings
from app.main import create_app

ROUTE = "/api/brain/ai-assistant/route"


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


@pytest.mark.parametrize(
    ("body", "field", "allowed"),
    [
        ({"task_type": "telepathy", "budget": "low"}, "task_type", "summarization"),
        ({"task_type": "chat", "budget": "gold"}, "budget", "unlimited"),
        ({"task_type": "chat", "budget": "low", "region": "mars"}, "region", "eu"),
    ],
)
def test_unknown_enum_values_list_the_allowed_ones(
    client: TestClient, body: dict[str, Any], field: str, allowed: str
) -> None:
    error = _error(client.post(ROUTE, json=body), 422)
    assert error["code"] == "invalid_request"
    item = next(f for f in error["details"]["fields"] if f["field"] == field)
    assert allowed in item["allowed"]
    assert field in error["message"] and allowed in error["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"task_type": "chat", "budget": "low", "context_size": -1}, "context_size"),
        ({"task_type": "chat", "budget": "low", "context_size": 10**12}, "context_size"),
        ({"task_type": "chat", "budget": "low", "context_size": "lots"}, "context_size"),
        ({"task_type": "chat", "budget": "low", "requires_sla": "maybe"}, "requires_sla"),
        ({"task_type": "chat", "budget": "low", "expected_output_tokens": 0}, "expected_output_tokens"),
        ({"task_type": "chat", "budget": "low", "surprise": 1}, "surprise"),
        ({"budget": "low"}, "task_type"),
        ({"task_type": 7, "budget": "low"}, "task_type"),
    ],
)
def test_wrong_values_and_types_name_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    error = _error(client.post(ROUTE, json=body), 422)
    assert field in {f["field"] for f in error["details"]["fields"]}


def test_prompt_and_messages_together_are_refused(client: TestClient) -> None:
    body = {"task_type": "chat", "budget": "low", "prompt": "hi",
            "messages": [{"role": "user", "content": "hi"}]}
    error = _error(client.post(ROUTE, json=body), 422)
    assert "either `prompt` or `messages`" in error["message"]


def test_missing_body_and_bad_json(client: TestClient) -> None:
    assert _error(client.post(ROUTE), 422)["code"] == "invalid_request"
    response = client.post(ROUTE, content=b"{not json", headers={"content-type": "application/json"})
    assert _error(response, 422)["code"] == "invalid_request"
    assert _error(client.post(ROUTE, json=[1, 2]), 422)["code"] == "invalid_request"


def test_body_over_the_cap_is_413(provider_keys: dict[str, str], settings: Settings) -> None:
    small = settings.model_copy(update={"max_body_bytes": 2048})
    with TestClient(create_app(small)) as c:
        big = {"task_type": "chat", "budget": "low", "prompt": "x" * 5000}
        error = _error(c.post(ROUTE, json=big), 413)
        assert error["code"] == "payload_too_large"
        assert error["details"]["max_bytes"] == 2048

        def chunks() -> Any:
            yield b'{"task_type": "chat", "budget": "low", "prompt": "'
            for _ in range(10):
                yield b"y" * 500
            yield b'"}'

        streamed = c.post(ROUTE, content=chunks(), headers={"content-type": "application/json"})
        assert _error(streamed, 413)["code"] == "payload_too_large"
        assert c.post(ROUTE, json={"task_type": "chat", "budget": "low"}).status_code == 200


def test_unknown_path_and_method_use_the_envelope(client: TestClient) -> None:
    assert _error(client.get("/nope"), 404)["code"] == "not_found"
    assert _error(client.get(ROUTE), 405)["code"] == "method_not_allowed"


def test_providers_lists_the_catalog_without_secrets(
    client: TestClient, provider_keys: dict[str, str]
) -> None:
    response = client.get("/api/brain/ai-assistant/providers")
    assert response.status_code == 200
    body = response.json()
    names = [p["name"] for p in body["providers"]]
    assert len(names) == 12 and "huggingface" in names
    azure = next(p for p in body["providers"] if p["name"] == "azure_openai")
    assert {m["region"] for m in azure["models"] if m["name"] == "gpt-4o"} == {"us", "eu"}
    assert azure["sla"] == 99.9 and azure["configured"] is True
    model = azure["models"][0]
    assert set(model) >= {"name", "region", "input_price", "output_price", "blended_price",
                          "context_window", "capabilities", "quality"}
    assert model["blended_price"] == round((3 * model["input_price"] + model["output_price"]) / 4, 4)
    assert body["budget_tiers"]["low"] == {
        "max_blended_price": 2.0, "strategy": "cost_optimized",
        "preferred_providers": ["deepseek", "mistral", "gemini"], "savings_target_percent": 60.0,
    }
    for key in provider_keys.values():
        assert key not in response.text


def test_health_and_docs(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json()["status"] == "ready"
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    route = schema["paths"][ROUTE]["post"]
    assert route["responses"]["200"]["content"]["application/json"]["example"]["primary_provider"]
    request_schema = schema["components"]["schemas"]["RouteRequest"]
    assert request_schema["examples"][0]["task_type"] == "chat"


def test_cors_origins_come_from_configuration(provider_keys: dict[str, str], settings: Settings) -> None:
    allowed = settings.model_copy(update={"cors_origins": ["http://app.example"]})
    with TestClient(create_app(allowed)) as c:
        ok = c.options(ROUTE, headers={"Origin": "http://app.example",
                                       "Access-Control-Request-Method": "POST"})
        assert ok.headers["access-control-allow-origin"] == "http://app.example"
        other = c.options(ROUTE, headers={"Origin": "http://evil.example",
                                          "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in other.headers
