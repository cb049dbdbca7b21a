"""The URL rule, the rewritten catalog, the event-stream encoder and the completion rules."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
from botocore.eventstream import EventStreamBuffer

from app.config.catalog import Catalog
from app.simulator import DIALECTS, Chat, complete, simulated_base_url, simulated_catalog
from app.simulator.eventstream import decode_messages, encode_event
from tests.simulator.conftest import tokens

ROOT = "http://127.0.0.1:8100"


def test_every_catalog_provider_is_simulated(catalog: Catalog) -> None:
    assert set(catalog.providers) == set(DIALECTS)


def test_url_rule_keeps_the_real_path(catalog: Catalog) -> None:
    for name, spec in catalog.providers.items():
        real = str(spec.base_url)
        assert simulated_base_url(ROOT, name, real) == f"{ROOT}/{name}" + urlsplit(real).path.rstrip("/")
        assert simulated_base_url(ROOT + "/", name) == simulated_base_url(ROOT, name, real)
    assert simulated_base_url(ROOT, "openai") == f"{ROOT}/openai/v1"
    assert simulated_base_url(ROOT, "openrouter") == f"{ROOT}/openrouter/api/v1"
    assert simulated_base_url(ROOT, "deepseek") == f"{ROOT}/deepseek"
    with pytest.raises(KeyError):
        simulated_base_url(ROOT, "skynet")


def test_simulated_catalog_points_everything_at_the_simulator(catalog: Catalog) -> None:
    rewritten = simulated_catalog(catalog, ROOT)
    for name, spec in rewritten.providers.items():
        assert str(spec.base_url).startswith(f"{ROOT}/{name}")
        for deployment in spec.deployments:
            assert str(deployment.base_url).startswith(f"{ROOT}/{name}")
        assert spec.models == catalog.providers[name].models
    assert rewritten.budget_tiers == catalog.budget_tiers


def test_event_stream_frames_decode_with_botocore() -> None:
    frames = encode_event("contentBlockDelta", b'{"delta":{"text":"hi"}}') + encode_event(
        "messageStop", b"{}"
    )
    buffer = EventStreamBuffer()
    buffer.add_data(frames)
    messages = list(buffer)
    assert [m.headers[":event-type"] for m in messages] == ["contentBlockDelta", "messageStop"]
    assert messages[0].headers[":message-type"] == "event"
    assert messages[0].payload == b'{"delta":{"text":"hi"}}'
    assert [(h[":event-type"], p) for h, p in decode_messages(frames)] == [
        ("contentBlockDelta", b'{"delta":{"text":"hi"}}'),
        ("messageStop", b"{}"),
    ]
    corrupted = io.BytesIO(frames)
    corrupted.seek(20)
    corrupted.write(b"X")
    with pytest.raises(ValueError, match="CRC"):
        decode_messages(corrupted.getvalue())


def test_completion_is_deterministic_and_cut_at_max_tokens() -> None:
    chat = Chat("m", ("system text", "Please show me some code"), None, False)
    first, again = complete("openai", chat), complete("openai", chat)
    assert first == again
    assert "```python" in first.text and "Please show me some code" in first.text
    assert first.input_tokens == tokens("system text") + tokens("Please show me some code")
    assert first.output_tokens == tokens(first.text) and not first.truncated
    assert "".join(first.chunks) == first.text
    assert complete("anthropic", chat).text != first.text
    cut = complete("openai", Chat("m", chat.texts, 7, False))
    assert cut.truncated and cut.output_tokens == 7 and first.text.startswith(cut.text)
