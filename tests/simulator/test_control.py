"""The control API (/_control), fault profiles and the `llm-router simulator` command."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.cli import main
from app.config.catalog import Catalog
from app.simulator import ProfileError, SimulatorProcess, SimulatorServer, load_profile

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"error_rate": 1.5}, "error_rate"),
        ({"error_rate": -0.1}, "error_rate"),
        ({"status": 200}, "status"),
        ({"status": "500"}, "status"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"latency_ms": 1.5}, "latency_ms"),
        ({"hang": "yes"}, "hang"),
        ({"retry_after": -3}, "retry_after"),
        ({"fail_after_chunks": -1}, "fail_after_chunks"),
        ({"first_chunk_delay_ms": "slow"}, "first_chunk_delay_ms"),
        ({"explode": True}, "explode"),
    ],
)
def test_bad_values_are_422_naming_the_field(
    http: httpx.Client, sim: SimulatorServer, body: dict[str, Any], field: str
) -> None:
    response = http.put(f"{sim.url}/_control/providers/openai", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_fault_settings"
    assert [e["field"] for e in error["details"]["errors"]] == [field]
    assert http.get(f"{sim.url}/_control/providers/openai").json()["settings"] == {}


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'"text"'])
def test_non_object_bodies_are_422(http: httpx.Client, sim: SimulatorServer, raw: bytes) -> None:
    response = http.put(
        f"{sim.url}/_control/providers/openai", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_fault_settings"


def test_unknown_provider_is_404(http: httpx.Client, sim: SimulatorServer) -> None:
    response = http.put(f"{sim.url}/_control/providers/skynet", json={})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_provider"
    assert "openai" in response.json()["error"]["details"]["providers"]
    assert http.post(f"{sim.url}/skynet/v1/chat/completions", json=CHAT).status_code == 404


def test_empty_object_restores_health(http: httpx.Client, sim: SimulatorServer) -> None:
    url = f"{sim.base_url('openai')}/chat/completions"
    auth = {"Authorization": "Bearer k"}
    put = http.put(f"{sim.url}/_control/providers/openai", json={"status": 502})
    assert put.json() == {"provider": "openai", "settings": {"status": 502}}
    assert http.post(url, json=CHAT, headers=auth).status_code == 502
    assert http.put(f"{sim.url}/_control/providers/openai", json={}).json()["settings"] == {}
    assert http.post(url, json=CHAT, headers=auth).status_code == 200
    listed = http.get(f"{sim.url}/_control/providers").json()["providers"]
    assert listed["openai"] == {} and len(listed) == 12


def test_stats_count_requests_by_outcome(http: httpx.Client, sim: SimulatorServer) -> None:
    url = f"{sim.base_url('cohere')}/v2/chat"
    good = {"model": "command-r-08-2024", "messages": [{"role": "user", "content": "hi"}]}
    http.post(url, json=good, headers={"Authorization": "Bearer k"})
    http.post(url, json={"model": "command-r-08-2024"}, headers={"Authorization": "Bearer k"})
    http.post(url, json=good)
    stats = http.get(f"{sim.url}/_control/stats").json()["providers"]
    assert stats["cohere"] == {
        "requests": 3,
        "errors": 2,
        "by_outcome": {"ok": 1, "bad_request": 1, "unauthorized": 1},
    }
    assert stats["openai"] == {"requests": 0, "errors": 0, "by_outcome": {}}
    assert set(stats) == {
        "openai",
        "deepseek",
        "mistral",
        "openrouter",
        "perplexity",
        "huggingface",
        "azure_openai",
        "anthropic",
        "gemini",
        "vertex_ai",
        "cohere",
        "bedrock",
    }


def test_profile_sets_start_up_faults_and_reset_returns_to_it(
    tmp_path: Path, catalog: Catalog, http: httpx.Client
) -> None:
    profile = tmp_path / "faults.yaml"
    profile.write_text("providers:\n  openai: {status: 503, retry_after: 2}\n  gemini: {latency_ms: 10}\n")
    with SimulatorServer(profile, catalog=catalog) as server:
        url = f"{server.base_url('openai')}/chat/completions"
        first = http.post(url, json=CHAT, headers={"Authorization": "Bearer k"})
        assert first.status_code == 503 and first.headers["retry-after"] == "2"
        server.configure("openai")
        assert http.post(url, json=CHAT, headers={"Authorization": "Bearer k"}).status_code == 200
        reset = http.post(f"{server.url}/_control/reset").json()
        assert reset["providers"]["openai"] == {"status": 503, "retry_after": 2}
        assert reset["providers"]["gemini"] == {"latency_ms": 10}
        assert server.stats()["providers"]["openai"]["requests"] == 0
        assert http.post(url, json=CHAT, headers={"Authorization": "Bearer k"}).status_code == 503


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"providers": {"skynet": {}}}', "unknown providers ['skynet']"),
        ('{"providers": {"openai": {"error_rate": 2}}}', "providers.openai.error_rate"),
        ("providers: [1, 2]", "providers"),
        ("providers: {openai: {status: 500", "not valid YAML"),
    ],
)
def test_bad_profiles_name_the_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "profile.json"
    path.write_text(text)
    with pytest.raises(ProfileError) as bad:
        load_profile(path)
    assert problem in str(bad.value) and str(path) in str(bad.value)


def test_cli_refuses_a_bad_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("providers: {openai: {hang: maybe}}")
    assert main(["simulator", "--profile", str(path), "--port", "0"]) == 2
    assert "providers.openai.hang" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_serves_in_a_child_process(tmp_path: Path) -> None:
    profile = tmp_path / "faults.json"
    profile.write_text('{"providers": {"deepseek": {"status": 500}}}')
    process = SimulatorProcess(seed=3, profile=profile)
    assert process.pid is None  # not started yet
    with process as child:
        assert child.pid is not None and b"simulator" in Path(f"/proc/{child.pid}/cmdline").read_bytes()
        response = httpx.post(
            f"{child.base_url('deepseek')}/chat/completions",
            json={**CHAT, "model": "deepseek-chat"},
            headers={"Authorization": "Bearer k"},
        )
        assert response.status_code == 500
        assert child.stats()["providers"]["deepseek"]["by_outcome"] == {"status_500": 1}
    assert process.pid is None  # stopped
