"""The official anthropic SDK against the simulator: messages, the SSE event stream, errors."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import pytest

from app.config.catalog import Catalog
from app.simulator import SimulatorServer
from tests.simulator.conftest import real_base, tokens

MODEL = "claude-haiku-4-5"
SYSTEM = "Answer like a pirate."
PROMPT = "Where is the treasure buried?"


@pytest.fixture
def clients() -> Iterator[list[anthropic.Anthropic]]:
    made: list[anthropic.Anthropic] = []
    yield made
    for client in made:
        client.close()


def _client(
    clients: list[anthropic.Anthropic], sim: SimulatorServer, catalog: Catalog, key: str = "sk-ant-test"
) -> anthropic.Anthropic:
    client = anthropic.Anthropic(
        base_url=sim.base_url("anthropic", real_base(catalog, "anthropic")), api_key=key, max_retries=0
    )
    clients.append(client)
    return client


def test_message_and_stream_with_usage(
    clients: list[anthropic.Anthropic], sim: SimulatorServer, catalog: Catalog
) -> None:
    client = _client(clients, sim, catalog)
    message = client.messages.create(
        model=MODEL,
        max_tokens=1024,
        system=SYSTEM,
        messages=[{"role": "user", "content": [{"type": "text", "text": PROMPT}]}],
    )
    assert message.model == MODEL and message.stop_reason == "end_turn"
    text = "".join(b.text for b in message.content if b.type == "text")
    assert PROMPT in text
    assert message.usage.input_tokens == tokens(SYSTEM) + tokens(PROMPT)
    assert message.usage.output_tokens == tokens(text)
    assert message.usage.cache_read_input_tokens == 0

    with client.messages.stream(
        model=MODEL, max_tokens=1024, system=SYSTEM, messages=[{"role": "user", "content": PROMPT}]
    ) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert streamed == text
    assert (final.usage.input_tokens, final.usage.output_tokens) == (
        message.usage.input_tokens,
        message.usage.output_tokens,
    )
    assert final.stop_reason == "end_turn"


def test_raw_event_sequence(
    clients: list[anthropic.Anthropic], sim: SimulatorServer, catalog: Catalog
) -> None:
    events = list(
        _client(clients, sim, catalog).messages.create(
            model=MODEL,
            max_tokens=8,
            messages=[{"role": "user", "content": PROMPT}],
            stream=True,
        )
    )
    kinds = [e.type for e in events]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(kinds[2:-3]) == {"content_block_delta"}
    delta = events[-2]
    assert delta.type == "message_delta"
    assert delta.delta.stop_reason == "max_tokens" and delta.usage.output_tokens == 8


def test_errors_in_anthropic_shape(
    clients: list[anthropic.Anthropic], sim: SimulatorServer, catalog: Catalog
) -> None:
    with pytest.raises(anthropic.BadRequestError) as bad:
        _client(clients, sim, catalog).messages.create(
            model=MODEL, max_tokens=64_001, timeout=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert bad.value.body == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "max_tokens: 64001 > 64000, which is the maximum allowed number of output tokens for "
            f"{MODEL}",
        },
    }
    with pytest.raises(anthropic.AuthenticationError):
        _client(clients, sim, catalog, key="invalid-key").messages.create(
            model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    missing_version = httpx.post(
        f"{sim.base_url('anthropic')}/v1/messages",
        headers={"x-api-key": "k"},
        json={"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
    )
    assert missing_version.status_code == 400
    assert missing_version.json()["error"]["message"] == "anthropic-version: header is required"
