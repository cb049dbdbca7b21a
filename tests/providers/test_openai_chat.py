"""OpenAI chat completions (and the compatible providers, and Azure) through a fake HTTP boundary."""

from __future__ import annotations

import httpx
import pytest

from app.providers.errors import ErrorClass, ProviderError
from app.providers.messages import chat_request
from app.providers.pool import ProviderPool
from tests.providers.conftest import FakeProvider, sse

# The response example of the chat.completions reference.
DOC_RESPONSE = {
    "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
    "object": "chat.completion",
    "created": 1741570283,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "The image shows a wooden boardwalk.",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 1117,
        "completion_tokens": 46,
        "total_tokens": 1163,
        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 12,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": "fp_fc9f1d7035",
}
MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hello!"}]


async def test_openai_request_and_usage(pool: ProviderPool, fake: FakeProvider) -> None:
    fake.reply(body=DOC_RESPONSE)
    request = chat_request(MESSAGES, max_tokens=100, temperature=0.2)
    completion = await pool.adapters["openai"].complete(pool.target("openai", "gpt-4o", "default"), request)
    sent = fake.last
    assert str(sent.url) == "https://api.openai.com/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test-openai"
    assert sent.headers["content-type"] == "application/json"
    assert fake.last_json() == {
        "model": "gpt-4o",
        "messages": MESSAGES,
        "max_completion_tokens": 100,
        "temperature": 0.2,
    }
    assert completion.content == "The image shows a wooden boardwalk."
    assert completion.finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (1117, 46)
    assert (completion.usage.cached_tokens, completion.usage.reasoning_tokens) == (1024, 12)


@pytest.mark.parametrize(
    ("provider", "model", "url"),
    [
        ("deepseek", "deepseek-chat", "https://api.deepseek.com/chat/completions"),
        ("mistral", "mistral-small-latest", "https://api.mistral.ai/v1/chat/completions"),
        ("openrouter", "meta-llama/llama-3.3-70b-instruct", "https://openrouter.ai/api/v1/chat/completions"),
        ("perplexity", "sonar", "https://api.perplexity.ai/chat/completions"),
        (
            "huggingface",
            "meta-llama/Llama-3.1-8B-Instruct",
            "https://router.huggingface.co/v1/chat/completions",
        ),
    ],
)
async def test_compatible_providers_use_their_base_url_and_max_tokens(
    pool: ProviderPool, fake: FakeProvider, provider: str, model: str, url: str
) -> None:
    fake.reply(body=DOC_RESPONSE)
    await pool.adapters[provider].complete(
        pool.target(provider, model, "default"), chat_request(prompt="hi", max_tokens=7)
    )
    assert str(fake.last.url) == url
    assert fake.last.headers["authorization"].startswith("Bearer ")
    body = fake.last_json()
    assert body["model"] == model and body["max_tokens"] == 7 and "max_completion_tokens" not in body


async def test_azure_uses_the_deployment_url_api_version_and_api_key(
    pool: ProviderPool, fake: FakeProvider
) -> None:
    fake.reply(body=DOC_RESPONSE)
    target = pool.target("azure_openai", "gpt-4o", "swedencentral")
    await pool.adapters["azure_openai"].complete(target, chat_request(prompt="hi"))
    sent = fake.last
    assert str(sent.url) == (
        "https://example-eu.openai.azure.com/openai/deployments/gpt-4o/chat/completions"
        "?api-version=2024-10-21"
    )
    assert sent.headers["api-key"] == "azure-key"
    assert "authorization" not in sent.headers


async def test_images_are_sent_as_content_parts(pool: ProviderPool, fake: FakeProvider) -> None:
    fake.reply(body=DOC_RESPONSE)
    parts = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
    ]
    await pool.adapters["openai"].complete(
        pool.target("openai", "gpt-4o", "default"), chat_request([{"role": "user", "content": parts}])
    )
    assert fake.last_json()["messages"] == [{"role": "user", "content": parts}]


CHUNK = (
    '{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,'
    '"model":"gpt-4o-mini","choices":[{"index":0,"delta":%s,"finish_reason":%s}]}'
)
USAGE_CHUNK = (
    '{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,'
    '"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,'
    '"total_tokens":11}}'
)


async def test_stream_translates_chunks_and_final_usage(pool: ProviderPool, fake: FakeProvider) -> None:
    body = sse(
        CHUNK % ('{"role":"assistant","content":""}', "null"),
        CHUNK % ('{"content":"Hello"}', "null"),
        CHUNK % ('{"content":" there"}', "null"),
        CHUNK % ("{}", '"stop"'),
        USAGE_CHUNK,
        "[DONE]",
    )
    fake.reply(raw=body, content_type="text/event-stream")
    target = pool.target("openai", "gpt-4o-mini", "default")
    chunks = [c async for c in pool.adapters["openai"].stream(target, chat_request(prompt="hi"))]
    assert "".join(c.text for c in chunks) == "Hello there"
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.input_tokens == 9
    sent = fake.last_json()
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert fake.last.headers["accept"] == "text/event-stream"


async def test_stream_cut_before_done_is_an_error_not_a_clean_end(
    pool: ProviderPool, fake: FakeProvider
) -> None:
    fake.reply(raw=sse(CHUNK % ('{"content":"Hel"}', "null")), content_type="text/event-stream")
    target = pool.target("mistral", "mistral-small-latest", "default")
    seen = []
    with pytest.raises(ProviderError) as err:
        async for chunk in pool.adapters["mistral"].stream(target, chat_request(prompt="hi")):
            seen.append(chunk.text)
    assert seen == ["Hel"]
    assert err.value.error_class is ErrorClass.INVALID_RESPONSE
    assert "stream_options" not in fake.last_json()


async def test_stream_error_status_is_classified(pool: ProviderPool, fake: FakeProvider) -> None:
    fake.reply(
        429,
        {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit"}},
        headers={"retry-after": "3"},
    )
    target = pool.target("openai", "gpt-4o", "default")
    with pytest.raises(ProviderError) as err:
        async for _ in pool.adapters["openai"].stream(target, chat_request(prompt="hi")):
            pass
    assert err.value.error_class is ErrorClass.RATE_LIMITED and err.value.retry_after_s == 3


async def test_connection_failures_and_bad_bodies_are_classified(
    pool: ProviderPool, fake: FakeProvider
) -> None:
    adapter, target = pool.adapters["openai"], pool.target("openai", "gpt-4o", "default")
    fake.fail(httpx.ConnectError("refused"))
    fake.reply(raw=b'{"choices": [{"mess')
    fake.reply(body={"object": "list", "data": []})
    classes = []
    for _ in range(3):
        with pytest.raises(ProviderError) as err:
            await adapter.complete(target, chat_request(prompt="hi"))
        classes.append(err.value.error_class)
    assert classes == [ErrorClass.CONNECTION, ErrorClass.INVALID_RESPONSE, ErrorClass.INVALID_RESPONSE]
