"""The official cohere SDK (ClientV2) against the simulator: chat, the typed event stream, errors."""

from __future__ import annotations

from collections.abc import Iterator

import cohere
import httpx
import pytest

from app.config.catalog import Catalog
from app.simulator import SimulatorServer
from tests.simulator.conftest import real_base, tokens

MODEL = "command-a-03-2025"
SYSTEM = "Cite your sources."
PROMPT = "What is retrieval-augmented generation?"


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def _client(
    http: httpx.Client, sim: SimulatorServer, catalog: Catalog, key: str = "co-test"
) -> cohere.ClientV2:
    return cohere.ClientV2(
        api_key=key, base_url=sim.base_url("cohere", real_base(catalog, "cohere")), httpx_client=http
    )


def test_chat_and_stream_with_usage(http: httpx.Client, sim: SimulatorServer, catalog: Catalog) -> None:
    client = _client(http, sim, catalog)
    messages: list[cohere.ChatMessageV2] = [
        cohere.SystemChatMessageV2(content=SYSTEM),
        cohere.UserChatMessageV2(content=PROMPT),
    ]
    reply = client.chat(model=MODEL, messages=messages)
    assert reply.finish_reason == "COMPLETE"
    assert reply.message.content
    text = "".join(getattr(block, "text", "") for block in reply.message.content)
    assert "Source: [1]" in text
    assert reply.usage and reply.usage.billed_units
    assert reply.usage.billed_units.input_tokens == tokens(SYSTEM) + tokens(PROMPT)
    assert reply.usage.billed_units.output_tokens == tokens(text)

    events = list(client.chat_stream(model=MODEL, messages=messages))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["message-start", "content-start"]
    assert kinds[-2:] == ["content-end", "message-end"]
    streamed = "".join(
        e.delta.message.content.text or ""
        for e in events  # type: ignore[union-attr]
        if e.type == "content-delta"
    )
    assert streamed == text
    end = events[-1]
    assert end.type == "message-end" and end.delta and end.delta.usage and end.delta.usage.billed_units
    assert end.delta.finish_reason == "COMPLETE"
    assert end.delta.usage.billed_units.output_tokens == reply.usage.billed_units.output_tokens


def test_errors_in_cohere_shape(http: httpx.Client, sim: SimulatorServer, catalog: Catalog) -> None:
    with pytest.raises(cohere.BadRequestError) as bad:
        _client(http, sim, catalog).chat(model=MODEL, messages=[])
    assert bad.value.body["message"].startswith("invalid request: messages")
    with pytest.raises(cohere.UnauthorizedError) as auth:
        _client(http, sim, catalog, key="invalid-key").chat(
            model=MODEL, messages=[cohere.UserChatMessageV2(content="x")]
        )
    assert auth.value.body["message"] == "invalid api token"
