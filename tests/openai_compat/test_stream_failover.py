"""Streaming failover through the SDK: fall back only before the first byte (errors, TTFT timeout),
an error event after it (reset, idle timeout), client disconnects, and the store's rows each time."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest

from app.config.catalog import Catalog
from app.routing.tokens import estimate_text_tokens
from app.simulator import SimulatorServer, count_tokens
from tests.openai_compat.conftest import FIRST_TOKEN_S, IDLE_S, Running, running

ASK = [{"role": "user", "content": "Capital of France?"}]
LOW = {"budget": "low"}


def stream(service: Running, **kwargs: Any) -> tuple[dict[str, str], list[Any]]:
    """Headers and chunks of one streamed call (raises what the SDK raises)."""
    client = service.client()
    args: dict[str, Any] = {"model": "auto", "messages": ASK, "stream": True,
                            "stream_options": {"include_usage": True}, "extra_body": LOW, **kwargs}
    with client.chat.completions.with_streaming_response.create(**args) as response:
        return dict(response.headers), list(response.parse())


def text_of(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def price(catalog: Catalog, provider: str, model: str, tokens_in: int, tokens_out: int) -> Decimal:
    spec = next(m for m in catalog.providers[provider].models if m.name == model)
    return (tokens_in * spec.input_price + tokens_out * spec.output_price) / Decimal(10**6)


def requests_to(simulator: SimulatorServer, provider: str) -> int:
    return int(simulator.stats()["providers"].get(provider, {}).get("requests", 0))


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 429, "retry_after": 30}, {"reset": True}])
def test_primary_failing_before_its_first_chunk_gives_one_clean_stream_from_the_fallback(
    fresh: Running, catalog: Catalog, fault: dict[str, Any]
) -> None:
    primary, second = fresh.chain(messages=ASK)[:2]
    fresh.simulator.configure(primary, **fault)
    headers, chunks = stream(fresh)
    assert headers["x-router-provider"] == second
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].delta.role for c in chunks if c.choices].count("assistant") == 1  # one stream
    assert {c.model for c in chunks} == {f"{second}/{headers['x-router-model']}"}
    assert f"from {second} (" in text_of(chunks) and "from " + primary not in text_of(chunks)
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens == count_tokens(text_of(chunks))
    decision, rows = fresh.stored(headers["x-router-decision-id"], attempts=2)
    assert decision.status == "succeeded"
    outcome = "rate_limited" if fault["status" if "status" in fault else "reset"] == 429 else "error"
    assert [(r.provider, r.outcome) for r in rows] == [(primary, outcome), (second, "success")]
    assert rows[0].cost_usd == 0 and rows[0].output_tokens == 0
    won = rows[1]
    assert (won.input_tokens, won.output_tokens) == (usage.prompt_tokens, usage.completion_tokens)
    assert won.cost_usd == price(catalog, second, headers["x-router-model"], won.input_tokens,
                                 won.output_tokens) > 0
    assert won.cost_estimated is False and won.is_fallback is True


def test_primary_silent_before_its_first_chunk_times_out_then_falls_back(fresh: Running) -> None:
    primary, second = fresh.chain(messages=ASK)[:2]
    # 200 and the stream's headers at once, then nothing: only a time-to-first-token limit catches it.
    fresh.simulator.configure(primary, first_chunk_delay_ms=30_000)
    started = time.monotonic()
    headers, chunks = stream(fresh)
    elapsed = time.monotonic() - started
    assert FIRST_TOKEN_S <= elapsed < FIRST_TOKEN_S + 3
    assert headers["x-router-provider"] == second and text_of(chunks)
    _, rows = fresh.stored(headers["x-router-decision-id"], attempts=2)
    assert [(r.provider, r.outcome, r.error_class) for r in rows] == [
        (primary, "timeout", "timeout"), (second, "success", None)]
    # The loop's timer may fire a few microseconds early: the attempt lasted the TTFT limit.
    assert rows[0].latency_ms >= FIRST_TOKEN_S * 1000 - 20 and rows[1].output_tokens > 0


def test_primary_hanging_without_an_answer_also_falls_back_at_the_ttft_limit(fresh: Running) -> None:
    primary, second = fresh.chain(messages=ASK)[:2]
    fresh.simulator.configure(primary, hang=True)
    headers, chunks = stream(fresh)
    assert headers["x-router-provider"] == second and text_of(chunks)


def test_primary_dying_mid_stream_gives_the_partial_content_then_an_error_event(
    fresh: Running, catalog: Catalog
) -> None:
    primary, second = fresh.chain(messages=ASK)[:2]
    fresh.simulator.configure(primary, fail_after_chunks=3)
    before = requests_to(fresh.simulator, second)  # the health prober may have called it at start-up
    received: list[Any] = []
    client = fresh.client()
    with pytest.raises(openai.APIError) as caught, client.chat.completions.with_streaming_response.create(
        model="auto", messages=ASK, stream=True, extra_body=LOW,
    ) as response:
        headers = dict(response.headers)
        for chunk in response.parse():
            received.append(chunk)
    assert headers["x-router-provider"] == primary
    partial = text_of(received)
    assert partial and f"from {primary} (" in partial
    assert f"{primary} failed mid-stream" in caught.value.message
    body = caught.value.body
    assert isinstance(body, dict) and body["code"] == "provider_stream_failed"
    assert requests_to(fresh.simulator, second) == before  # no fallback after the first byte
    decision, rows = fresh.stored(headers["x-router-decision-id"], attempts=1)
    assert decision.status == "failed"
    assert [(r.provider, r.outcome, r.error_class) for r in rows] == [(primary, "error", "invalid_response")]
    row = rows[0]
    # Billed for what was streamed: counted tokens, flagged as estimated, never 0.
    assert row.output_tokens == estimate_text_tokens(partial, catalog.defaults.chars_per_token) > 0
    assert row.cost_estimated is True
    assert row.cost_usd == price(catalog, primary, headers["x-router-model"], row.input_tokens,
                                 row.output_tokens) > 0


def test_a_stall_mid_stream_ends_with_an_error_event_after_the_idle_timeout(fresh: Running) -> None:
    primary = fresh.chain(messages=ASK)[0]
    fresh.simulator.configure(primary, fail_after_chunks=2, hang=True)
    started = time.monotonic()
    response = httpx.post(fresh.url + "/v1/chat/completions", timeout=30, json={
        "model": "auto", "messages": ASK, "stream": True, "budget": "low"})
    assert IDLE_S <= time.monotonic() - started < IDLE_S + 3
    # The raw events: content, then the error event with the partial usage, and no [DONE].
    events = [line.removeprefix("data: ") for line in response.text.split("\n\n") if line]
    assert "[DONE]" not in events and orjson.loads(events[1])["choices"][0]["delta"]["content"]
    last = orjson.loads(events[-1])
    assert last["error"]["code"] == "provider_stream_failed" and last["usage"]["completion_tokens"] > 0
    assert "no chunk from the provider for 1 s" in last["error"]["message"]
    _, rows = fresh.stored(response.headers["x-router-decision-id"], attempts=1)
    assert [(r.provider, r.outcome, r.error_class, r.cost_estimated) for r in rows] == [
        (primary, "timeout", "timeout", True)]
    # The SDK surfaces the same event as an APIError (pinned, since health now ranks it lower).
    pinned = f"{primary}/{response.headers['x-router-model']}"
    with pytest.raises(openai.APIError) as caught:
        stream(fresh, model=pinned)
    assert f"{primary} failed mid-stream (timeout" in caught.value.message


def test_a_stream_without_provider_usage_is_costed_from_counted_tokens(
    fresh: Running, catalog: Catalog
) -> None:
    # Mistral is not sent stream_options.include_usage, and the simulator then reports no usage.
    headers, chunks = stream(fresh, model="mistral/mistral-small-latest")
    text = text_of(chunks)
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens == estimate_text_tokens(text, 4.0)
    assert chunks[-1].model_extra is not None and chunks[-1].model_extra["router"]["cost_estimated"] is True
    _, rows = fresh.stored(headers["x-router-decision-id"], attempts=1)
    row = rows[0]
    assert (row.provider, row.outcome, row.cost_estimated) == ("mistral", "success", True)
    assert row.output_tokens == usage.completion_tokens
    assert row.cost_usd == price(catalog, "mistral", "mistral-small-latest", row.input_tokens,
                                 row.output_tokens) > 0


def test_every_provider_failing_before_a_byte_is_a_502_the_sdk_raises(fresh: Running) -> None:
    for provider in fresh.chain(messages=ASK):
        fresh.simulator.configure(provider, status=503)
    with pytest.raises(openai.InternalServerError) as caught:
        stream(fresh)
    assert caught.value.status_code == 502 and caught.value.code == "all_providers_failed"


def test_a_pinned_model_failing_falls_back_within_the_callers_constraints(fresh: Running) -> None:
    fresh.simulator.configure("anthropic", status=500)
    headers, chunks = stream(fresh, model="anthropic/claude-haiku-4-5", extra_body={"budget": "free"})
    decision, rows = fresh.stored(headers["x-router-decision-id"], attempts=2)
    assert [(r.provider, r.outcome) for r in rows][:1] == [("anthropic", "error")]
    assert rows[-1].outcome == "success" and headers["x-router-provider"] == rows[-1].provider != "anthropic"
    assert all(c["blended_price"] == 0 for c in decision.chain[1:]) and text_of(chunks)


def test_a_client_leaving_mid_stream_cancels_the_provider_call_and_is_recorded(
    simulator: SimulatorServer, catalog: Catalog, tmp_path: Path
) -> None:
    simulator.reset()
    # A long idle limit: only noticing the disconnect ends this call early.
    with running(simulator, catalog, tmp_path, idle_s=30) as service:
        primary = service.chain(messages=ASK)[0]
        simulator.configure(primary, fail_after_chunks=2, hang=True)
        with httpx.Client(timeout=30) as client, client.stream(
            "POST", service.url + "/v1/chat/completions",
            json={"model": "auto", "messages": ASK, "stream": True, "budget": "low"},
        ) as response:
            decision_id = response.headers["x-router-decision-id"]
            lines = response.iter_lines()
            assert '"role":"assistant"' in next(line for line in lines if line)
            assert '"content"' in next(line for line in lines if line)
        left = time.monotonic()
        decision, rows = service.stored(decision_id, attempts=1, timeout_s=5)
        assert time.monotonic() - left < 5 and decision.status == "succeeded"
        assert [(r.provider, r.outcome, r.error_class) for r in rows] == [
            (primary, "success", "client_disconnected")]
        assert rows[0].output_tokens > 0 and rows[0].cost_usd > 0 and rows[0].cost_estimated is True
        assert rows[0].latency_ms < 10_000
