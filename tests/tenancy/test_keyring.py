"""Provider key rings: sources per environment, rotation, refused and rate-limited keys, reloads."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from app.config.catalog import Catalog
from app.config.settings import Settings
from app.main import build_context, create_app
from app.providers.base import ChatRequest, TextPart, Turn
from app.providers.errors import ErrorClass, ProviderError
from app.providers.keyring import KeyRing, fingerprint, load_keys
from app.providers.pool import ProviderPool
from app.tenancy.provider_keys import watch_sighup
from tests.tenancy.stack import ADMIN, MASTER, auth

ASK = ChatRequest(turns=(Turn("user", (TextPart("hi"),)),), max_tokens=5)
OK = {"id": "x", "choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}],
      "usage": {"prompt_tokens": 1, "completion_tokens": 1}}


class Ticker:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_keys_come_from_the_variable_a_secrets_file_or_the_environments_own_set(tmp_path: Path) -> None:
    assert load_keys("OPENAI_API_KEY", {"OPENAI_API_KEY": " k1, k2 ,k1,,k3 "}) == ["k1", "k2", "k3"]
    assert load_keys("OPENAI_API_KEY", {}) == []
    staged = {"ROUTER_ENV": "staging", "OPENAI_API_KEY": "prod", "STAGING_OPENAI_API_KEY": "stage1,stage2"}
    assert load_keys("OPENAI_API_KEY", staged) == ["stage1", "stage2"]
    assert load_keys("OPENAI_API_KEY", {"ROUTER_ENV": "staging", "OPENAI_API_KEY": "prod"}) == []

    flat = tmp_path / "flat.yaml"
    flat.write_text("OPENAI_API_KEY: [f1, f2]\nMISTRAL_API_KEY: m1,m2\n")
    from_file = {"ROUTER_SECRETS_FILE": str(flat), "OPENAI_API_KEY": "env"}
    assert load_keys("OPENAI_API_KEY", from_file) == ["f1", "f2"]
    assert load_keys("MISTRAL_API_KEY", {"ROUTER_SECRETS_FILE": str(flat)}) == ["m1", "m2"]
    assert load_keys("COHERE_API_KEY", {"ROUTER_SECRETS_FILE": str(flat), "COHERE_API_KEY": "c"}) == ["c"]

    sections = tmp_path / "envs.json"
    sections.write_text(orjson.dumps({"environments": {"prod": {"OPENAI_API_KEY": ["p1"]},
                                                       "staging": {"OPENAI_API_KEY": "s1, s2"}}}).decode())
    env = {"ROUTER_SECRETS_FILE": str(sections)}
    assert load_keys("OPENAI_API_KEY", {**env, "ROUTER_ENV": "staging"}) == ["s1", "s2"]
    assert load_keys("OPENAI_API_KEY", {**env, "ROUTER_ENV": "prod"}) == ["p1"]
    with pytest.raises(ValueError, match="ROUTER_ENV"):
        load_keys("OPENAI_API_KEY", env)

    mounted = tmp_path / "secrets"
    mounted.mkdir()
    (mounted / "OPENAI_API_KEY").write_text("d1\nd2\n")
    assert load_keys("OPENAI_API_KEY", {"ROUTER_SECRETS_FILE": str(mounted)}) == ["d1", "d2"]


def test_keys_are_used_in_turn_and_blocked_ones_skipped(caplog: pytest.LogCaptureFixture) -> None:
    clock = Ticker()
    ring = KeyRing("openai", ["k-one-0001", "k-two-0002", "k-three-003"], clock=clock)
    used = []
    for _ in range(6):
        used.append(ring.current())
        ring.advance()
    assert used == ["k-one-0001", "k-two-0002", "k-three-003"] * 2
    caplog.set_level(logging.INFO, logger="app.providers.keyring")
    ring.refused(["Bearer k-two-0002"], 401)
    ring.rate_limited(["Bearer k-three-003"], 10)
    assert [ring.current() for _ in range(3)] == ["k-one-0001"] * 3
    assert ring.usable() == 1
    alert = next(r for r in caplog.records if r.levelno == logging.WARNING)
    assert fingerprint("k-two-0002") in alert.getMessage() and "k-two-0002" not in alert.getMessage()
    assert all("k-three-003" not in r.getMessage() for r in caplog.records)
    clock.now += 10.5
    assert {ring.current(), (ring.advance(), ring.current())[1]} == {"k-one-0001", "k-three-003"}
    ring.refused(["Bearer k-one-0001"], 403)
    ring.refused(["Bearer k-three-003"], 403)
    clock.now += 100
    assert ring.current() == "k-two-0002"  # every key blocked: the one free soonest
    states = [s["state"] for s in ring.status()]
    assert states == ["refused (HTTP 403)", "refused (HTTP 401)", "refused (HTTP 403)"]
    ring.replace(["k-two-0002", "k-new-00004"])
    assert ring.current() == "k-new-00004" and len(ring) == 2


@pytest.fixture
async def pool(catalog: Catalog) -> AsyncIterator[tuple[ProviderPool, list[str]]]:
    seen: list[str] = []
    refuse = {"Bearer bad-key-000001"}

    def handler(request: httpx.Request) -> httpx.Response:
        sent = request.headers["authorization"]
        seen.append(sent.removeprefix("Bearer "))
        if sent in refuse:
            return httpx.Response(401, json={"error": {"message": f"Incorrect API key {sent[7:12]}***"}})
        if sent == "Bearer busy-key-00002":
            return httpx.Response(429, json={"error": {"message": "slow"}}, headers={"retry-after": "30"})
        return httpx.Response(200, json=OK)

    opened = await ProviderPool.open(catalog, environ={"OPENAI_API_KEY": "good-key-00001,bad-key-000001,"
                                                                        "busy-key-00002,good-key-00003"},
                                     transport=httpx.MockTransport(handler))
    yield opened, seen
    await opened.aclose()


async def test_the_adapter_sends_each_key_in_turn_and_learns_from_401_and_429(
    pool: tuple[ProviderPool, list[str]],
) -> None:
    providers, seen = pool
    adapter = providers.adapters["openai"]
    target = providers.target("openai", "gpt-4o-mini", "default")
    outcomes = []
    for _ in range(8):
        try:
            await adapter.complete(target, ASK)
            outcomes.append("ok")
        except ProviderError as exc:
            outcomes.append(exc.error_class.value)
    assert seen[:4] == ["good-key-00001", "bad-key-000001", "busy-key-00002", "good-key-00003"]
    assert outcomes[:4] == ["ok", ErrorClass.AUTH.value, ErrorClass.RATE_LIMITED.value, "ok"]
    assert set(seen[4:]) == {"good-key-00001", "good-key-00003"} and outcomes[4:] == ["ok"] * 4
    assert [s["state"] for s in adapter.keys.status()] == ["usable", "refused (HTTP 401)", "rate limited",
                                                           "usable"]


@pytest.fixture
def secrets_service(provider_keys: dict[str, str], tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Path]]:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("OPENAI_API_KEY: [sk-file-one-000000001]\n")
    monkeypatch.setenv("ROUTER_SECRETS_FILE", str(secrets))
    monkeypatch.delenv("COHERE_API_KEY")
    settings = Settings(router_master_key=MASTER, database_url=f"sqlite+aiosqlite:///{tmp_path}/r.db",
                        ROUTER_DATA_DIR=tmp_path)
    with TestClient(create_app(settings)) as client:
        yield client, secrets


def test_the_admin_call_reloads_keys_without_a_restart(secrets_service: tuple[TestClient, Path]) -> None:
    client, secrets = secrets_service
    before = client.get(f"{ADMIN}/provider-keys", headers=auth(MASTER)).json()["providers"]
    assert [k["fingerprint"] for k in before["openai"]] == [fingerprint("sk-file-one-000000001")]
    assert before["cohere"] == []
    providers = client.get("/api/brain/ai-assistant/providers", headers=auth(MASTER)).json()["providers"]
    assert not next(p for p in providers if p["name"] == "cohere")["configured"]

    secrets.write_text("OPENAI_API_KEY: [sk-file-one-000000001, sk-file-two-000000002]\n"
                       "COHERE_API_KEY: co-file-000000000001\n")
    reloaded = client.post(f"{ADMIN}/provider-keys/reload", headers=auth(MASTER))
    assert reloaded.status_code == 200
    assert reloaded.json()["providers"]["openai"] == 2 and "cohere" in reloaded.json()["callable"]
    text = client.get(f"{ADMIN}/provider-keys", headers=auth(MASTER)).text
    assert "sk-file" not in text and "co-file" not in text and fingerprint("co-file-000000000001") in text
    providers = client.get("/api/brain/ai-assistant/providers", headers=auth(MASTER)).json()["providers"]
    assert next(p for p in providers if p["name"] == "cohere")["configured"]

    secrets.write_text("- not a mapping\n")
    broken = client.post(f"{ADMIN}/provider-keys/reload", headers=auth(MASTER))
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "bad_request"
    after = client.get(f"{ADMIN}/provider-keys", headers=auth(MASTER)).json()["providers"]
    assert len(after["openai"]) == 2  # a bad file changes nothing


async def test_sighup_reloads_the_keys(catalog: Catalog, provider_keys: dict[str, str], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/r.db", ROUTER_DATA_DIR=tmp_path)
    ctx = build_context(settings)
    ctx.providers = await ProviderPool.open(ctx.catalog)
    stop = watch_sighup(ctx)
    try:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-after-hangup-0001,sk-after-hangup-0002")
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(100):
            if len(ctx.providers.adapters["openai"].keys) == 2:
                break
            await asyncio.sleep(0.01)
        assert ctx.providers.adapters["openai"].keys.current() == "sk-after-hangup-0001"
    finally:
        stop()
        await ctx.providers.aclose()
