"""A credential chain that is slow to resolve (botocore's, Google's ADC) does not hold start-up: the
pool waits PREPARE_AT_START_S for it, then lets it finish in the background, its provider skipped
until it does."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.config.catalog import Catalog
from app.config.settings import Settings
from app.execution.invokers import AdapterInvoker
from app.main import create_app
from app.providers import pool as pool_module
from app.providers.base import ChatRequest
from app.providers.bedrock_converse import BedrockConverseAdapter, StaticCredentials
from app.providers.pool import STILL_PREPARING, ProviderPool
from tests.providers.conftest import KEYS

NO_AWS = {k: v for k, v in KEYS.items() if not k.startswith("AWS_")}
ASK = ChatRequest(turns=())
Prepare = Callable[[BedrockConverseAdapter], Coroutine[Any, Any, None]]


def gated(gate: asyncio.Event, *, fail: bool = False, cancelled: list[str] | None = None) -> Prepare:
    """Bedrock's preparation, done when `gate` is set: credentials found, or an error."""
    async def prepare(self: BedrockConverseAdapter) -> None:
        try:
            await gate.wait()
        except asyncio.CancelledError:
            if cancelled is not None:
                cancelled.append(self.name)
            raise
        if fail:
            raise RuntimeError("the metadata service hung up")
        self.credentials = StaticCredentials("AKIDEXAMPLE", "secret", None)
    return prepare


async def open_pool(catalog: Catalog, **kwargs: Any) -> ProviderPool:
    return await ProviderPool.open(catalog, environ=NO_AWS, transport=httpx.MockTransport(
        lambda request: httpx.Response(500)), **kwargs)


async def until(check: Callable[[], bool]) -> None:
    for _ in range(200):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def test_a_slow_chain_is_skipped_until_it_resolves_then_routed_to(
        catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = asyncio.Event()
    monkeypatch.setattr(BedrockConverseAdapter, "prepare", gated(gate))
    seen: list[ProviderPool] = []
    started = time.monotonic()
    pool = await open_pool(catalog, wait_s=0.05, on_prepared=seen.append)
    try:
        assert time.monotonic() - started < 2.0  # not held until the chain resolves
        assert "bedrock" not in pool.available() and "openai" in pool.available()
        reason = pool.unavailable("bedrock")
        assert reason is not None and reason.message == STILL_PREPARING
        # a request routed to it meanwhile is skipped, saying why
        skipped = AdapterInvoker(pool, ASK).unavailable("bedrock")
        assert skipped is not None and skipped.message == STILL_PREPARING
        gate.set()
        await until(lambda: bool(seen))
        assert seen == [pool]
        assert "bedrock" in pool.available() and pool.unavailable("bedrock") is None
    finally:
        await pool.aclose()


async def test_a_chain_that_fails_in_the_background_is_logged_and_skipped_for_its_own_reason(
        catalog: Catalog, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    gate = asyncio.Event()
    monkeypatch.setattr(BedrockConverseAdapter, "prepare", gated(gate, fail=True))
    seen: list[ProviderPool] = []
    pool = await open_pool(catalog, wait_s=0.05, on_prepared=seen.append)
    try:
        with caplog.at_level(logging.WARNING, logger="app.providers.pool"):
            gate.set()
            await until(lambda: bool(seen))
        assert "bedrock: resolving its credentials failed: RuntimeError" in caplog.text
        reason = pool.unavailable("bedrock")
        assert reason is not None and "no AWS credentials" in reason.message
    finally:
        await pool.aclose()


async def test_a_preparation_that_fails_within_the_wait_fails_the_start_and_stops_the_others(
        catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    gate = asyncio.Event()
    cancelled: list[str] = []

    async def broken(self: Any) -> None:
        raise ValueError("a bad credentials file")

    monkeypatch.setattr(BedrockConverseAdapter, "prepare", broken)
    monkeypatch.setattr("app.providers.gemini.GeminiAdapter.prepare", gated(gate, cancelled=cancelled))
    with pytest.raises(ValueError, match="a bad credentials file"):
        await open_pool(catalog, wait_s=1.0)
    await until(lambda: bool(cancelled))
    assert cancelled == ["gemini"]  # still running: cancelled, not left behind


async def test_closing_the_pool_cancels_a_preparation_still_running(
        catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    cancelled: list[str] = []
    monkeypatch.setattr(BedrockConverseAdapter, "prepare", gated(asyncio.Event(), cancelled=cancelled))
    seen: list[ProviderPool] = []
    pool = await open_pool(catalog, wait_s=0.05, on_prepared=seen.append)
    await pool.aclose()
    assert cancelled == ["bedrock"]
    assert not seen  # a cancelled preparation changes nothing


def test_the_service_starts_without_waiting_and_routes_to_the_provider_once_resolved(
        provider_keys: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(pool_module, "PREPARE_AT_START_S", 0.05)
    resolved = threading.Event()  # the test client runs the service's loop in another thread

    async def prepare(self: BedrockConverseAdapter) -> None:
        while not resolved.is_set():
            await asyncio.sleep(0.01)
        self.credentials = StaticCredentials("AKIDEXAMPLE", "secret", None)

    monkeypatch.setattr(BedrockConverseAdapter, "prepare", prepare)
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/r.db", ROUTER_DATA_DIR=tmp_path)

    def configured(client: TestClient) -> bool:
        providers = client.get("/api/brain/ai-assistant/providers").json()["providers"]
        return bool(next(p for p in providers if p["name"] == "bedrock")["configured"])

    with TestClient(create_app(settings)) as client:
        assert not configured(client)  # up, the chain still resolving
        resolved.set()
        deadline = time.monotonic() + 5
        while not configured(client) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert configured(client)
