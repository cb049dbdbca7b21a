"""End to end over HTTP: client -> service (uvicorn) -> provider simulator, faults injected at run time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.commands.demo import EXTRA_PLACEHOLDERS, write_catalog
from app.config.catalog import Catalog
from app.config.settings import Settings
from app.simulator import SimulatorServer
from app.store.engine import create_engine, create_sessionmaker
from app.store.repositories import attempts_of
from tests.execution.service import ServiceThread

EXECUTE = "/api/brain/ai-assistant/execute"
ROUTE = "/api/brain/ai-assistant/route"
CHAT_LOW = {
    "task_type": "chat",
    "budget": "low",
    "messages": [{"role": "user", "content": "Capital of France?"}],
}
HANG_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def simulator(catalog: Catalog) -> Iterator[SimulatorServer]:
    with SimulatorServer(catalog=catalog) as server:
        yield server


@pytest.fixture
def service(
    simulator: SimulatorServer,
    catalog: Catalog,
    provider_keys: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[ServiceThread]:
    simulator.reset()
    for var, value in EXTRA_PLACEHOLDERS.items():
        monkeypatch.setenv(var, value)
    simulated = simulator.catalog(catalog)
    # A short read timeout for the primary of chat/low, so a hang costs a second, not a minute.
    deepseek = simulated.providers["deepseek"]
    quick = deepseek.model_copy(
        update={"timeouts": deepseek.timeouts.model_copy(update={"read_s": HANG_TIMEOUT_S})}
    )
    simulated = simulated.model_copy(update={"providers": {**simulated.providers, "deepseek": quick}})
    path = write_catalog(simulated, tmp_path / "catalog.yaml")
    settings = Settings(
        router_config=path, database_url=f"sqlite+aiosqlite:///{tmp_path}/router.db", ROUTER_DATA_DIR=tmp_path
    )
    with ServiceThread(settings) as running:
        yield running


def chain_of(service: ServiceThread) -> list[str]:
    decision = httpx.post(service.url + ROUTE, json=CHAT_LOW).json()
    return [c["provider"] for c in decision["chain"]]


def requests_to(simulator: SimulatorServer, provider: str) -> int:
    return int(simulator.stats()["providers"].get(provider, {}).get("requests", 0))


def stored_attempts(tmp_path: Path, decision_id: str) -> list[Any]:
    async def read() -> list[Any]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/router.db")
        try:
            async with create_sessionmaker(engine)() as session:
                return await attempts_of(session, decision_id)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_primary_500_falls_back_and_both_attempts_are_stored_with_exact_cost(
    service: ServiceThread, simulator: SimulatorServer, catalog: Catalog, tmp_path: Path
) -> None:
    primary, second = chain_of(service)[:2]
    simulator.configure(primary, error_rate=1.0, status=500)
    response = httpx.post(service.url + EXECUTE, json=CHAT_LOW, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(a["provider"], a["outcome"], a["error_class"], a["status_code"]) for a in body["attempts"]] == [
        (primary, "error", "server_error", 500),
        (second, "success", None, None),
    ]
    assert (body["provider"], response.headers["x-router-provider"]) == (second, second)
    assert response.headers["x-router-decision-id"] == body["decision_id"]
    assert body["content"] and body["cost_estimated"] is False and 0 <= body["quality_score"] <= 10
    service.__exit__(None, None, None)  # shut down: the store flushes what is pending
    rows = stored_attempts(tmp_path, body["decision_id"])
    assert [(r.provider, r.outcome) for r in rows] == [(primary, "error"), (second, "success")]
    won = rows[1]
    model = next(m for m in catalog.providers[second].models if m.name == body["model"])
    expected = (won.input_tokens * model.input_price + won.output_tokens * model.output_price) / Decimal(
        10**6
    )
    assert (
        won.input_tokens == body["usage"]["input_tokens"]
        and won.output_tokens == body["usage"]["output_tokens"]
    )
    assert won.cost_usd == expected and float(expected) == body["cost_usd"]


def test_429_falls_back_now_and_the_provider_is_left_alone_until_retry_after(
    service: ServiceThread, simulator: SimulatorServer
) -> None:
    primary, second = chain_of(service)[:2]
    simulator.configure(primary, error_rate=1.0, status=429, retry_after=30)
    before = requests_to(simulator, primary)  # the health prober may have called it at start-up
    started = time.monotonic()
    first = httpx.post(service.url + EXECUTE, json=CHAT_LOW, timeout=30).json()
    assert time.monotonic() - started < 5
    assert [(a["provider"], a["outcome"], a["status_code"]) for a in first["attempts"]] == [
        (primary, "rate_limited", 429),
        (second, "success", None),
    ]
    again = httpx.post(service.url + EXECUTE, json=CHAT_LOW, timeout=30).json()
    assert again["provider"] == second
    assert requests_to(simulator, primary) == before + 1  # cooled for its Retry-After: not asked again


def test_hang_times_out_per_try_then_falls_back(service: ServiceThread, simulator: SimulatorServer) -> None:
    primary, second = chain_of(service)[:2]
    assert primary == "deepseek"
    simulator.configure(primary, hang=True)
    started = time.monotonic()
    body = httpx.post(service.url + EXECUTE, json=CHAT_LOW, timeout=30).json()
    elapsed = time.monotonic() - started
    assert [(a["provider"], a["outcome"], a["error_class"]) for a in body["attempts"]] == [
        (primary, "timeout", "timeout"),
        (second, "success", None),
    ]
    assert HANG_TIMEOUT_S <= elapsed < HANG_TIMEOUT_S + 5


def test_a_400_the_request_caused_is_returned_without_fallback(
    service: ServiceThread, simulator: SimulatorServer
) -> None:
    primary = chain_of(service)[0]
    # Routed for 100 output tokens, but asks the model for more than it can write.
    body = {**CHAT_LOW, "expected_output_tokens": 100, "max_tokens": 20000}
    before = simulator.stats()["providers"]
    response = httpx.post(service.url + EXECUTE, json=body, timeout=30)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "provider_rejected_request"
    assert "max_tokens is too large" in error["message"] and error["details"]["provider"] == primary
    assert [a["provider"] for a in error["details"]["attempts"]] == [primary]
    after = simulator.stats()["providers"]
    assert {p: after[p]["requests"] - before[p]["requests"] for p in after if after[p] != before[p]} == {
        primary: 1
    }


def test_every_provider_failing_gives_502_with_every_attempt(
    service: ServiceThread, simulator: SimulatorServer
) -> None:
    chain = chain_of(service)
    for provider in chain:
        simulator.configure(provider, error_rate=1.0, status=503)
    response = httpx.post(service.url + EXECUTE, json=CHAT_LOW, timeout=30)
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "all_providers_failed"
    attempts = error["details"]["attempts"]
    assert [a["provider"] for a in attempts] == chain[:3]  # at most retries.max_attempts calls
    assert all(a["outcome"] == "error" and a["status_code"] == 503 and a["message"] for a in attempts)
    assert response.headers["x-router-decision-id"] == error["details"]["decision_id"]


def test_a_provider_without_a_key_is_never_called(
    simulator: SimulatorServer,
    catalog: Catalog,
    provider_keys: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    simulator.reset()
    monkeypatch.delenv("DEEPSEEK_API_KEY")
    path = write_catalog(simulator.catalog(catalog), tmp_path / "catalog.yaml")
    settings = Settings(
        router_config=path, database_url=f"sqlite+aiosqlite:///{tmp_path}/r.db", ROUTER_DATA_DIR=tmp_path
    )
    with ServiceThread(settings) as running:
        decision = httpx.post(running.url + ROUTE, json=CHAT_LOW).json()
        before = requests_to(simulator, "deepseek")
        body = httpx.post(running.url + EXECUTE, json=CHAT_LOW, timeout=30).json()
    assert {e["reason"] for e in decision["excluded"] if e["provider"] == "deepseek"} >= {"no_key"}
    assert "deepseek" not in [a["provider"] for a in body["attempts"]]
    assert requests_to(simulator, "deepseek") == before
