"""Gemini (API key) and Vertex AI (regional endpoint, bearer token) generateContent."""

from __future__ import annotations

import httpx
import pytest

from app.config.catalog import Catalog
from app.providers.errors import ErrorClass, ProviderError
from app.providers.messages import chat_request
from app.providers.pool import ProviderPool
from tests.providers.conftest import KEYS, FakeProvider, sse

DOC_RESPONSE = {
    "candidates": [
        {
            "content": {
                "parts": [
                    {"text": "Thinking...", "thought": True},
                    {"text": "AI learns patterns from data."},
                ],
                "role": "model",
            },
            "finishReason": "STOP",
            "avgLogprobs": -0.12,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 8,
        "candidatesTokenCount": 12,
        "totalTokenCount": 45,
        "cachedContentTokenCount": 4,
        "thoughtsTokenCount": 25,
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "abc123",
}


async def test_gemini_request_and_usage(pool: ProviderPool, fake: FakeProvider) -> None:
    fake.reply(body=DOC_RESPONSE)
    request = chat_request(
        [
            {"role": "system", "content": "Short answers."},
            {"role": "user", "content": "AI?"},
            {"role": "assistant", "content": "Yes?"},
            {"role": "user", "content": "Explain"},
        ],
        max_tokens=64,
        temperature=0.1,
    )
    completion = await pool.adapters["gemini"].complete(
        pool.target("gemini", "gemini-2.5-flash", "default"), request
    )
    sent = fake.last
    assert str(sent.url) == (
        "https://generativelanguage.googleapis.com/v1/models/gemini-2.5-flash:generateContent"
    )
    assert sent.headers["x-goog-api-key"] == "gemini-key"
    assert fake.last_json() == {
        "contents": [
            {"role": "user", "parts": [{"text": "AI?"}]},
            {"role": "model", "parts": [{"text": "Yes?"}]},
            {"role": "user", "parts": [{"text": "Explain"}]},
        ],
        "systemInstruction": {"parts": [{"text": "Short answers."}]},
        "generationConfig": {"maxOutputTokens": 64, "temperature": 0.1},
    }
    assert completion.content == "AI learns patterns from data."  # thought parts left out
    assert completion.usage is not None
    # thoughts are billed as output
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (8, 12 + 25)
    assert (completion.usage.cached_tokens, completion.usage.reasoning_tokens) == (4, 25)


async def test_vertex_uses_the_regional_endpoint_and_bearer_token(
    pool: ProviderPool, fake: FakeProvider
) -> None:
    fake.reply(body=DOC_RESPONSE)
    target = pool.target("vertex_ai", "gemini-2.5-pro", "europe-west4")
    await pool.adapters["vertex_ai"].complete(target, chat_request(prompt="hi"))
    assert str(fake.last.url) == (
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/my-project/locations/europe-west4/"
        "publishers/google/models/gemini-2.5-pro:generateContent"
    )
    assert fake.last.headers["authorization"] == "Bearer ya29.test-token"
    assert "x-goog-api-key" not in fake.last.headers


async def test_vertex_without_token_or_project_is_skipped_with_a_reason(catalog: Catalog) -> None:
    env = {k: v for k, v in KEYS.items() if k not in {"VERTEX_AI_ACCESS_TOKEN", "VERTEX_AI_PROJECT"}}
    pool = await ProviderPool.open(
        catalog, environ=env, transport=httpx.MockTransport(lambda r: httpx.Response(500))
    )
    try:
        reason = pool.skipped()["vertex_ai"]
        assert reason.error_class is ErrorClass.NO_KEY and "VERTEX_AI_ACCESS_TOKEN" in reason.message
        assert "vertex_ai" not in pool.available() and "gemini" in pool.available()
    finally:
        await pool.aclose()


async def test_stream_uses_alt_sse_and_ends_on_finish_reason(pool: ProviderPool, fake: FakeProvider) -> None:
    fake.reply(
        raw=sse(
            '{"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"}}]}',
            '{"candidates":[{"content":{"parts":[{"text":"lo"}],"role":"model"},"finishReason":"STOP"}],'
            '"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"totalTokenCount":5}}',
        ),
        content_type="text/event-stream",
    )
    target = pool.target("gemini", "gemini-2.5-flash", "default")
    chunks = [c async for c in pool.adapters["gemini"].stream(target, chat_request(prompt="hi"))]
    assert str(fake.last.url).endswith("/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
    assert "".join(c.text for c in chunks) == "Hello"
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage is not None
    assert chunks[-1].usage.output_tokens == 2


async def test_blocked_prompt_is_the_requests_fault(pool: ProviderPool, fake: FakeProvider) -> None:
    fake.reply(body={"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 5}})
    with pytest.raises(ProviderError) as err:
        await pool.adapters["gemini"].complete(
            pool.target("gemini", "gemini-2.5-flash", "default"), chat_request(prompt="bad")
        )
    assert err.value.error_class is ErrorClass.BAD_REQUEST and "SAFETY" in err.value.message


async def test_resource_exhausted_carries_retry_delay(pool: ProviderPool, fake: FakeProvider) -> None:
    fake.reply(
        429,
        {
            "error": {
                "code": 429,
                "message": "Resource has been exhausted",
                "status": "RESOURCE_EXHAUSTED",
                "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}],
            }
        },
    )
    with pytest.raises(ProviderError) as err:
        await pool.adapters["gemini"].complete(
            pool.target("gemini", "gemini-2.5-flash", "default"), chat_request(prompt="hi")
        )
    assert err.value.error_class is ErrorClass.RATE_LIMITED and err.value.retry_after_s == 17
