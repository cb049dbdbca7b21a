"""Anthropic messages through a fake HTTP boundary: headers, system prompt, blocks, usage, stream."""

from __future__ import annotations

import orjson
import pytest

from app.providers.errors import ErrorClass, ProviderError
from app.providers.messages import chat_request
from app.providers.pool import ProviderPool
from tests.providers.conftest import FakeProvider, sse

DOC_RESPONSE = {
    "content": [{"text": "Hi! My name is Claude.", "type": "text"}],
    "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
    "model": "claude-sonnet-4-5",
    "role": "assistant",
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "type": "message",
    "usage": {
        "input_tokens": 2095,
        "output_tokens": 503,
        "cache_creation_input_tokens": 100,
        "cache_read_input_tokens": 1000,
    },
}


async def test_request_headers_system_and_usage(pool: ProviderPool, fake: FakeProvider) -> None:
    fake.reply(body=DOC_RESPONSE)
    request = chat_request(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi"},
            {"role": "user", "content": "Name?"},
        ],
        temperature=0.5,
    )
    completion = await pool.adapters["anthropic"].complete(
        pool.target("anthropic", "claude-sonnet-4-5", "default"), request
    )
    sent = fake.last
    assert str(sent.url) == "https://api.anthropic.com/v1/messages"
    assert sent.headers["x-api-key"] == "sk-ant-test"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    assert fake.last_json() == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 4096,
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi"},
            {"role": "user", "content": "Name?"},
        ],
    }
    assert completion.content == "Hi! My name is Claude." and completion.finish_reason == "stop"
    assert completion.usage is not None
    # input_tokens excludes cache reads and writes; the prompt is all three
    assert completion.usage.input_tokens == 2095 + 100 + 1000
    assert (completion.usage.output_tokens, completion.usage.cached_tokens) == (503, 1000)


async def test_images_become_base64_or_url_blocks(pool: ProviderPool, fake: FakeProvider) -> None:
    fake.reply(body=DOC_RESPONSE)
    parts = [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        {"type": "text", "text": "Compare."},
    ]
    await pool.adapters["anthropic"].complete(
        pool.target("anthropic", "claude-haiku-4-5", "default"),
        chat_request([{"role": "user", "content": parts}], max_tokens=50),
    )
    body = fake.last_json()
    assert body["max_tokens"] == 50
    assert body["messages"][0]["content"] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        {"type": "text", "text": "Compare."},
    ]


def _events(*pairs: tuple[str, dict[str, object]]) -> bytes:
    return sse(*((name, orjson.dumps(data).decode()) for name, data in pairs))


START = (
    "message_start",
    {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "claude-sonnet-4-5",
            "stop_reason": None,
            "usage": {"input_tokens": 25, "output_tokens": 1},
        },
    },
)


async def test_stream_events_become_chunks_with_usage(pool: ProviderPool, fake: FakeProvider) -> None:
    fake.reply(
        raw=_events(
            START,
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            ),
            ("ping", {"type": "ping"}),
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
            ),
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}},
            ),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn"},
                    "usage": {"output_tokens": 15},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ),
        content_type="text/event-stream",
    )
    target = pool.target("anthropic", "claude-sonnet-4-5", "default")
    chunks = [c async for c in pool.adapters["anthropic"].stream(target, chat_request(prompt="hi"))]
    assert "".join(c.text for c in chunks) == "Hello!"
    final = chunks[-1]
    assert final.finish_reason == "stop" and final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens) == (25, 15)
    assert fake.last_json()["stream"] is True


async def test_overloaded_error_event_mid_stream_is_a_server_error(
    pool: ProviderPool, fake: FakeProvider
) -> None:
    fake.reply(
        raw=_events(
            START,
            ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ),
        content_type="text/event-stream",
    )
    target = pool.target("anthropic", "claude-sonnet-4-5", "default")
    with pytest.raises(ProviderError) as err:
        async for _ in pool.adapters["anthropic"].stream(target, chat_request(prompt="hi")):
            pass
    assert err.value.error_class is ErrorClass.SERVER_ERROR and err.value.status_code == 529


async def test_stream_without_message_stop_is_truncated(pool: ProviderPool, fake: FakeProvider) -> None:
    fake.reply(raw=_events(START), content_type="text/event-stream")
    target = pool.target("anthropic", "claude-sonnet-4-5", "default")
    with pytest.raises(ProviderError) as err:
        async for _ in pool.adapters["anthropic"].stream(target, chat_request(prompt="hi")):
            pass
    assert err.value.error_class is ErrorClass.INVALID_RESPONSE
