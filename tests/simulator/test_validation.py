"""Malformed requests get the provider's own 400, missing keys its own 401/403, before any fault."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.simulator import SimulatorServer

OPENAI_AUTH = {"Authorization": "Bearer k"}
ANTHROPIC_AUTH = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
GEMINI_AUTH = {"x-goog-api-key": "k"}
BEDROCK_AUTH = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/bedrock/aws4_request"}
USER = [{"role": "user", "content": "hi"}]
GEMINI_PATH = "/v1beta/models/gemini-2.5-pro:generateContent"
BEDROCK_PATH = "/model/amazon.nova-pro-v1:0/converse"


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


OPENAI_CASES = [
    ({"messages": USER}, None, "you must provide a model parameter"),
    ({"model": "gpt-4o"}, "messages", "Missing required parameter: 'messages'."),
    ({"model": "gpt-4o", "messages": []}, "messages", "empty array"),
    ({"model": "gpt-4o", "messages": "hi"}, "messages", "expected an array"),
    ({"model": "gpt-4o", "messages": [{"content": "x"}]}, "messages[0].role", "Missing required parameter"),
    ({"model": "gpt-4o", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", "'robot'"),
    (
        {"model": "gpt-4o", "messages": [{"role": "user", "content": 3}]},
        "messages[0].content",
        "Invalid type",
    ),
    ({"model": "gpt-4o", "messages": USER, "max_tokens": 0}, "max_tokens", "below minimum"),
    ({"model": "gpt-4o", "messages": USER, "max_tokens": "9"}, "max_tokens", "expected an integer"),
    (
        {"model": "gpt-4o", "messages": USER, "max_completion_tokens": 10**6},
        "max_completion_tokens",
        "too large",
    ),
    ({"model": "gpt-4o", "messages": USER, "temperature": 3}, "temperature", "between 0 and 2"),
    (
        {"model": "gpt-4o", "messages": USER, "stream_options": {"include_usage": True}},
        "stream_options",
        "only allowed when 'stream' is enabled",
    ),
]


@pytest.mark.parametrize(("body", "param", "message"), OPENAI_CASES)
def test_openai_400s(
    http: httpx.Client, sim: SimulatorServer, body: dict[str, Any], param: str | None, message: str
) -> None:
    sim.configure("openai", status=500)  # faults never mask the provider's own validation
    response = http.post(f"{sim.base_url('openai')}/chat/completions", json=body, headers=OPENAI_AUTH)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert message in error["message"]


def test_openai_bad_json_and_missing_key(http: httpx.Client, sim: SimulatorServer) -> None:
    url = f"{sim.base_url('perplexity')}/chat/completions"
    assert http.post(url, content=b"{nope", headers=OPENAI_AUTH).status_code == 400
    missing = http.post(url, json={"model": "sonar", "messages": USER})
    assert missing.status_code == 401
    assert missing.json()["error"]["message"].startswith("You didn't provide an API key")


ANTHROPIC_CASES = [
    ({"max_tokens": 5, "messages": USER}, "model: Field required"),
    ({"model": "claude-haiku-4-5", "messages": USER}, "max_tokens: Field required"),
    ({"model": "claude-haiku-4-5", "max_tokens": 5}, "messages: Field required"),
    ({"model": "claude-haiku-4-5", "max_tokens": 0, "messages": USER}, "greater than or equal to 1"),
    ({"model": "claude-haiku-4-5", "max_tokens": 5.5, "messages": USER}, "valid integer"),
    ({"model": "claude-haiku-4-5", "max_tokens": 5, "messages": []}, "at least one message"),
    (
        {"model": "claude-haiku-4-5", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]},
        "messages.0.role",
    ),
    ({"model": "claude-haiku-4-5", "max_tokens": 5, "messages": USER, "system": 5}, "system"),
    ({"model": "claude-haiku-4-5", "max_tokens": 5, "messages": USER, "temperature": 1.5}, "temperature"),
]


@pytest.mark.parametrize(("body", "message"), ANTHROPIC_CASES)
def test_anthropic_400s(http: httpx.Client, sim: SimulatorServer, body: dict[str, Any], message: str) -> None:
    response = http.post(f"{sim.base_url('anthropic')}/v1/messages", json=body, headers=ANTHROPIC_AUTH)
    assert response.status_code == 400
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert message in response.json()["error"]["message"]


def test_anthropic_missing_key(http: httpx.Client, sim: SimulatorServer) -> None:
    response = http.post(
        f"{sim.base_url('anthropic')}/v1/messages", json={}, headers={"anthropic-version": "2023-06-01"}
    )
    assert response.status_code == 401
    assert response.json()["error"] == {
        "type": "authentication_error",
        "message": "x-api-key header is required",
    }


GEMINI_CASES = [
    ({}, "contents is not specified"),
    ({"contents": []}, "contents is not specified"),
    (
        {"contents": [{"role": "user", "parts": [{"text": "x"}]}], "max_tokens": 5},
        'Unknown name "max_tokens"',
    ),
    ({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}, "valid role"),
    ({"contents": [{"role": "user", "parts": []}]}, "parts must not be empty"),
    (
        {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"maxOutputTokens": "ten"}},
        "TYPE_INT32",
    ),
    (
        {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"maxOutputTokens": 0}},
        "supported range",
    ),
    ({"contents": [{"parts": [{"text": "x"}]}], "generation_config": {"temperature": 9}}, "temperature"),
]


@pytest.mark.parametrize(("body", "message"), GEMINI_CASES)
def test_gemini_400s(http: httpx.Client, sim: SimulatorServer, body: dict[str, Any], message: str) -> None:
    response = http.post(sim.base_url("gemini") + GEMINI_PATH, json=body, headers=GEMINI_AUTH)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert message in error["message"]


def test_gemini_key_in_query_and_missing(http: httpx.Client, sim: SimulatorServer) -> None:
    url = sim.base_url("gemini") + GEMINI_PATH
    body = {"contents": [{"parts": [{"text": "x"}]}]}
    assert http.post(url, params={"key": "k"}, json=body).status_code == 200
    missing = http.post(url, json=body)
    assert missing.status_code == 403 and missing.json()["error"]["status"] == "PERMISSION_DENIED"
    unknown = http.post(
        sim.base_url("gemini") + "/v1beta/models/gemini-2.5-pro:explode", json=body, headers=GEMINI_AUTH
    )
    assert unknown.status_code == 404 and unknown.json()["error"]["status"] == "NOT_FOUND"


def test_gemini_stream_without_alt_sse_is_one_json_array(http: httpx.Client, sim: SimulatorServer) -> None:
    body = {"contents": [{"parts": [{"text": "x"}]}]}
    url = sim.base_url("gemini") + "/v1beta/models/gemini-2.5-pro:streamGenerateContent"
    items = http.post(url, json=body, headers=GEMINI_AUTH).json()
    assert isinstance(items, list) and items[-1]["candidates"][0]["finishReason"] == "STOP"
    whole = http.post(sim.base_url("gemini") + GEMINI_PATH, json=body, headers=GEMINI_AUTH).json()
    assert (
        "".join(i["candidates"][0]["content"]["parts"][0]["text"] for i in items)
        == whole["candidates"][0]["content"]["parts"][0]["text"]
    )


def test_vertex_requires_a_bearer_token(http: httpx.Client, sim: SimulatorServer) -> None:
    url = (
        f"{sim.base_url('vertex_ai')}/v1/projects/p/locations/us-central1/publishers/google/models/"
        "gemini-2.5-pro:generateContent"
    )
    body = {"contents": [{"role": "user", "parts": [{"text": "x"}]}]}
    missing = http.post(url, json=body)
    assert missing.status_code == 401 and missing.json()["error"]["status"] == "UNAUTHENTICATED"
    assert http.post(url, json=body, headers={"Authorization": "Bearer ya29.x"}).status_code == 200


COHERE_CASES = [
    ({"messages": USER}, "model"),
    ({"model": "command-r-08-2024"}, "messages"),
    ({"model": "command-r-08-2024", "messages": [{"role": "bot", "content": "x"}]}, "role"),
    ({"model": "command-r-08-2024", "messages": USER, "max_tokens": 0}, "max_tokens"),
    ({"model": "command-r-08-2024", "messages": USER, "stream": "yes"}, "stream"),
]


@pytest.mark.parametrize(("body", "word"), COHERE_CASES)
def test_cohere_400s(http: httpx.Client, sim: SimulatorServer, body: dict[str, Any], word: str) -> None:
    response = http.post(f"{sim.base_url('cohere')}/v2/chat", json=body, headers=OPENAI_AUTH)
    assert response.status_code == 400
    assert response.json()["message"].startswith("invalid request:") and word in response.json()["message"]


BEDROCK_CASES = [
    ({}, "Value null at 'messages'"),
    ({"messages": []}, "must start with a user message"),
    ({"messages": [{"role": "assistant", "content": [{"text": "x"}]}]}, "must start with a user message"),
    ({"messages": [{"role": "user", "content": "x"}]}, "messages.1.member.content"),
    (
        {"messages": [{"role": "user", "content": [{"text": "x"}]}], "inferenceConfig": {"maxTokens": 0}},
        "inferenceConfig.maxTokens",
    ),
    (
        {"messages": [{"role": "user", "content": [{"text": "x"}]}], "inferenceConfig": {"maxTokens": 10**6}},
        "exceeds the model limit",
    ),
    (
        {"messages": [{"role": "user", "content": [{"text": "x"}]}], "inferenceConfig": {"temperature": 2}},
        "inferenceConfig.temperature",
    ),
]


@pytest.mark.parametrize(("body", "message"), BEDROCK_CASES)
def test_bedrock_400s(http: httpx.Client, sim: SimulatorServer, body: dict[str, Any], message: str) -> None:
    response = http.post(sim.base_url("bedrock") + BEDROCK_PATH, json=body, headers=BEDROCK_AUTH)
    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"].startswith("ValidationException:")
    assert message in response.json()["message"]
