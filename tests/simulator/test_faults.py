"""Fault injection, seen from the client: seeded error rates, 429s, hangs, resets, cut bodies and streams."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest

from app.config.catalog import Catalog
from app.simulator import SimulatorServer

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Tell me about fault injection."}]}
AUTH = {"Authorization": "Bearer sk-test"}


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def _chat_url(sim: SimulatorServer, provider: str = "openai") -> str:
    return f"{sim.base_url(provider)}/chat/completions"


def _statuses(http: httpx.Client, sim: SimulatorServer, n: int) -> list[int]:
    return [http.post(_chat_url(sim), json=CHAT, headers=AUTH).status_code for _ in range(n)]


def test_error_rate_draws_repeat_for_the_same_seed(
    http: httpx.Client, sim: SimulatorServer, catalog: Catalog
) -> None:
    sim.configure("openai", error_rate=0.5, status=503)
    first = _statuses(http, sim, 40)
    assert set(first) == {200, 503}
    stats = sim.stats()["providers"]["openai"]
    assert stats["errors"] == first.count(503)
    assert stats["by_outcome"] == {"ok": first.count(200), "status_503": first.count(503)}

    sim.reset()
    sim.configure("openai", error_rate=0.5, status=503)
    sim.configure("mistral", error_rate=0.5)
    again = []
    for _ in range(40):  # another provider's traffic in between must not shift openai's draws
        http.post(_chat_url(sim, "mistral"), json=CHAT, headers=AUTH)
        again.append(http.post(_chat_url(sim), json=CHAT, headers=AUTH).status_code)
    assert again == first

    with SimulatorServer(catalog=catalog, seed=1) as other:
        other.configure("openai", error_rate=0.5, status=503)
        assert [http.post(_chat_url(other), json=CHAT, headers=AUTH).status_code for _ in range(40)] != first


def test_rate_limit_with_retry_after(sim: SimulatorServer) -> None:
    sim.configure("anthropic", status=429, retry_after=7)
    with (
        anthropic.Anthropic(base_url=sim.base_url("anthropic"), api_key="k", max_retries=0) as client,
        pytest.raises(anthropic.RateLimitError) as limited,
    ):
        client.messages.create(
            model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert limited.value.response.headers["retry-after"] == "7"
    assert limited.value.body == {
        "type": "error",
        "error": {
            "type": "rate_limit_error",
            "message": "Simulated failure injected by the provider simulator.",
        },
        "request_id": limited.value.request_id,
    }
    sim.configure("openai", status=429)
    with (
        openai.OpenAI(base_url=sim.base_url("openai"), api_key="k", max_retries=0) as oa,
        pytest.raises(openai.RateLimitError) as plain,
    ):
        oa.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert "retry-after" not in plain.value.response.headers
    assert plain.value.code == "rate_limit_exceeded"


@pytest.mark.parametrize(
    ("provider", "path", "check"),
    [
        ("openai", "/chat/completions", lambda r: r.json()["error"]["type"] == "server_error"),
        (
            "azure_openai",
            "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
            lambda r: r.json()["error"]["code"] == "503",
        ),
        ("anthropic", "/v1/messages", lambda r: r.json()["error"]["type"] == "api_error"),
        (
            "gemini",
            "/v1beta/models/gemini-2.5-flash:generateContent",
            lambda r: (
                r.json()["error"]
                == {"code": 503, "status": "UNAVAILABLE", "message": r.json()["error"]["message"]}
            ),
        ),
        ("cohere", "/v2/chat", lambda r: set(r.json()) == {"id", "message"}),
        (
            "bedrock",
            "/model/amazon.nova-pro-v1:0/converse",
            lambda r: r.headers["x-amzn-errortype"].startswith("ServiceUnavailableException:"),
        ),
    ],
)
def test_injected_errors_use_each_providers_shape(
    http: httpx.Client, sim: SimulatorServer, provider: str, path: str, check: object
) -> None:
    sim.configure(provider, status=503)
    # Faults apply to requests the provider would accept, so send a valid one.
    bodies = {
        "anthropic": {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
        "gemini": {"contents": [{"role": "user", "parts": [{"text": "x"}]}]},
        "bedrock": {"messages": [{"role": "user", "content": [{"text": "x"}]}]},
    }
    headers = {
        "Authorization": "Bearer k",
        "api-key": "k",
        "x-api-key": "k",
        "anthropic-version": "2023-06-01",
        "x-goog-api-key": "k",
    }
    response = http.post(
        sim.base_url(provider) + path, json=bodies.get(provider, {**CHAT, "model": "m"}), headers=headers
    )
    assert response.status_code == 503
    assert callable(check) and check(response)


def test_hang_until_the_client_gives_up(http: httpx.Client, sim: SimulatorServer) -> None:
    sim.configure("openai", hang=True)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        http.post(_chat_url(sim), json=CHAT, headers=AUTH, timeout=httpx.Timeout(10, read=0.4))
    assert time.monotonic() - started >= 0.4
    sim.configure("openai")
    assert http.post(_chat_url(sim), json=CHAT, headers=AUTH).status_code == 200
    assert sim.stats()["providers"]["openai"]["by_outcome"] == {"hang": 1, "ok": 1}


def test_reset_drops_the_connection(http: httpx.Client, sim: SimulatorServer) -> None:
    sim.configure("openai", reset=True)
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        http.post(_chat_url(sim), json=CHAT, headers=AUTH)
    with (
        openai.OpenAI(base_url=sim.base_url("openai"), api_key="k", max_retries=0) as client,
        pytest.raises(openai.APIConnectionError),
    ):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert sim.stats()["providers"]["openai"]["by_outcome"] == {"reset": 2}


def test_truncate_sends_a_cut_json_body(http: httpx.Client, sim: SimulatorServer) -> None:
    whole = http.post(_chat_url(sim), json=CHAT, headers=AUTH).content
    sim.configure("openai", truncate=True)
    cut = http.post(_chat_url(sim), json=CHAT, headers=AUTH)
    assert cut.status_code == 200
    assert int(cut.headers["content-length"]) == len(cut.content) == len(whole) // 2
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content)


def _stream_events(http: httpx.Client, sim: SimulatorServer, events: list[str], **extra: object) -> None:
    body = {**CHAT, "stream": True, **extra}
    with http.stream("POST", _chat_url(sim), json=body, headers=AUTH) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(line[6:])


def _contents(events: list[str]) -> list[str]:
    parsed = [json.loads(e) for e in events if e != "[DONE]"]
    return [
        c["choices"][0]["delta"]["content"]
        for c in parsed
        if c["choices"] and c["choices"][0]["delta"].get("content")
    ]


def test_truncated_stream_ends_cleanly_without_its_closing_events(
    http: httpx.Client, sim: SimulatorServer
) -> None:
    whole: list[str] = []
    _stream_events(http, sim, whole)
    sim.configure("openai", truncate=True)
    cut: list[str] = []
    _stream_events(http, sim, cut)
    assert whole[-1] == "[DONE]" and "[DONE]" not in cut
    assert _contents(cut) == _contents(whole)[: len(_contents(whole)) // 2]


def test_mid_stream_failure_breaks_the_connection_after_n_chunks(
    http: httpx.Client, sim: SimulatorServer
) -> None:
    sim.configure("openai", fail_after_chunks=3)
    events: list[str] = []
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        _stream_events(http, sim, events)
    assert len(_contents(events)) == 3
    with (
        openai.OpenAI(base_url=sim.base_url("openai"), api_key="k", max_retries=0) as client,
        pytest.raises(openai.APIConnectionError),
    ):
        list(
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "x"}], stream=True
            )
        )
    assert sim.stats()["providers"]["openai"]["by_outcome"] == {"mid_stream_reset": 2}


def test_mid_stream_hang_stalls_after_n_chunks(http: httpx.Client, sim: SimulatorServer) -> None:
    sim.configure("anthropic", fail_after_chunks=2, hang=True)
    seen: list[str] = []
    body = {
        "model": "claude-haiku-4-5",
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "x"}],
    }
    headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    with (
        pytest.raises(httpx.ReadTimeout),
        http.stream(
            "POST",
            f"{sim.base_url('anthropic')}/v1/messages",
            json=body,
            headers=headers,
            timeout=httpx.Timeout(10, read=0.4),
        ) as response,
    ):
        seen.extend(line[7:] for line in response.iter_lines() if line.startswith("event: "))
    assert seen == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
    ]


def test_non_streamed_requests_ignore_fail_after_chunks(http: httpx.Client, sim: SimulatorServer) -> None:
    sim.configure("openai", fail_after_chunks=1)
    assert http.post(_chat_url(sim), json=CHAT, headers=AUTH).status_code == 200


def test_latency_and_first_chunk_delay(http: httpx.Client, sim: SimulatorServer) -> None:
    sim.configure("openai", latency_ms=300)
    started = time.monotonic()
    assert http.post(_chat_url(sim), json=CHAT, headers=AUTH).status_code == 200
    assert time.monotonic() - started >= 0.3
    sim.configure("openai", first_chunk_delay_ms=300)
    with http.stream("POST", _chat_url(sim), json={**CHAT, "stream": True}, headers=AUTH) as response:
        headers_at = time.monotonic()
        next(response.iter_bytes())
        assert time.monotonic() - headers_at >= 0.25


def test_stopping_the_simulator_releases_hanging_requests(catalog: Catalog) -> None:
    server = SimulatorServer(catalog=catalog).start()
    server.configure("openai", hang=True)
    failures: list[Exception] = []

    def call() -> None:
        try:
            httpx.post(f"{server.base_url('openai')}/chat/completions", json=CHAT, headers=AUTH, timeout=30)
        except httpx.HTTPError as exc:
            failures.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    while server.stats()["providers"]["openai"]["by_outcome"].get("hang") != 1:
        time.sleep(0.01)
    server.stop()
    caller.join(timeout=5)
    assert not caller.is_alive()
    assert len(failures) == 1 and isinstance(failures[0], httpx.ReadError | httpx.RemoteProtocolError)
