"""Requests are capped and cannot steer providers: every request schema in the OpenAPI document
bounds its messages and max_tokens (strings are bounded by the body cap), and none accepts a
provider URL or key."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

STEERING = {"base_url", "api_base", "api_key", "api_url", "endpoint", "provider_url", "provider_key",
            "key", "url", "host", "headers"}
CAPPED_ARRAYS = {"messages", "contents", "content", "stop", "tools"}
CAPPED_NUMBERS = {"max_tokens", "max_completion_tokens", "expected_output_tokens", "context_size", "n"}


def resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def variants(schema: dict[str, Any], components: dict[str, Any]) -> list[dict[str, Any]]:
    """The schema and every branch of its anyOf/oneOf/allOf, resolved."""
    schema = resolve(schema, components)
    out = [schema]
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in schema.get(key, []):
            out += variants(branch, components)
    return out


def request_bodies(client: TestClient) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    document = client.get("/openapi.json").json()
    components = document["components"]["schemas"]
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if content:
                found.append((f"{method.upper()} {path}", resolve(content["schema"], components), components))
    return found


def test_every_request_body_caps_lists_and_token_counts(client: TestClient) -> None:
    bodies = request_bodies(client)
    assert any("/execute" in where for where, _, _ in bodies)
    for where, schema, components in bodies:
        for name, prop in schema.get("properties", {}).items():
            branches = variants(prop, components)
            if name in CAPPED_ARRAYS:
                arrays = [b for b in branches if b.get("type") == "array"]
                assert all("maxItems" in b for b in arrays), f"{where}: {name} has no maxItems"
            if name in CAPPED_NUMBERS:
                numbers = [b for b in branches if b.get("type") in ("integer", "number")]
                assert numbers and all("maximum" in b or "exclusiveMaximum" in b for b in numbers), \
                    f"{where}: {name} has no maximum"


def test_no_request_can_set_a_provider_url_or_key(client: TestClient) -> None:
    for where, schema, _ in request_bodies(client):
        assert not STEERING & set(schema.get("properties", {})), where
    base = {"task_type": "chat", "budget": "low", "prompt": "hi"}
    for field in ("base_url", "api_key", "api_base"):
        refused = client.post("/api/brain/ai-assistant/execute", json={**base, field: "http://evil.example"})
        assert refused.status_code == 422, field
        assert refused.json()["error"]["details"]["fields"][0]["field"] == field


@pytest.mark.parametrize(("field", "value"), [("max_tokens", 10**7), ("messages", [{"role": "user",
                                                                                  "content": "x"}] * 5000)])
def test_over_the_caps_is_a_422_naming_the_field(client: TestClient, field: str, value: Any) -> None:
    hello = [{"role": "user", "content": "hi"}]
    body = {"task_type": "chat", "budget": "low", "messages": hello, field: value}
    refused = client.post("/api/brain/ai-assistant/execute", json=body)
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["fields"][0]["field"].startswith(field)
