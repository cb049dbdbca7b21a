"""50 simultaneous /execute calls against a budget with room for 10, through the simulator, on both stores."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from app.config.catalog import Catalog
from app.simulator import SimulatorServer
from tests.conftest import truncate_all
from tests.execution.service import ServiceThread
from tests.tenancy.stack import ADMIN, EXECUTE, MASTER, auth, query, secured_settings, tenant_key

REQUEST = {"task_type": "chat", "budget": "low", "max_tokens": 64,
           "messages": [{"role": "user", "content": "Explain a token bucket in two sentences."}]}
CONCURRENT, ROOM_FOR = 50, 10


@pytest.fixture(scope="module")
def simulator(catalog: Catalog) -> Iterator[SimulatorServer]:
    with SimulatorServer(catalog=catalog) as server:
        yield server


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path, migrated_sqlite: Path) -> str:
    if request.param == "sqlite":
        (tmp_path / "data").mkdir()
        shutil.copy(migrated_sqlite, tmp_path / "data" / "router.db")
        return f"sqlite+aiosqlite:///{tmp_path}/data/router.db"
    url: str = request.getfixturevalue("pg_url")
    asyncio.run(truncate_all(url))  # the session's PostgreSQL, emptied
    return url


@pytest.mark.slow
def test_fifty_concurrent_executions_never_overspend_a_budget_with_room_for_ten(
    simulator: SimulatorServer, catalog: Catalog, provider_keys: dict[str, str], tmp_path: Path,
    store_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    simulator.reset()
    settings = secured_settings(simulator, catalog, tmp_path, store_url, monkeypatch)
    with ServiceThread(settings) as service:
        key = tenant_key(service.url, "acme", daily_hard_limit_usd="0.0000000001")
        # The 402 names what one call holds (the dearest model of the chain for these tokens).
        probe = httpx.post(service.url + EXECUTE, json=REQUEST, headers=auth(key), timeout=30)
        assert probe.status_code == 402, probe.text
        per_call = Decimal(str(probe.json()["error"]["details"]["requested_usd"]))
        limit = per_call * ROOM_FOR
        patched = httpx.patch(f"{service.url}{ADMIN}/tenants/acme", json={"daily_hard_limit_usd": str(limit)},
                              headers=auth(MASTER))
        assert patched.status_code == 200, patched.text
        for provider in catalog.providers:  # every call stays in flight while all the others reserve
            simulator.configure(provider, latency_ms=400)

        async def burst() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=service.url, headers=auth(key), timeout=60) as client:
                return await asyncio.gather(*(client.post(EXECUTE, json=REQUEST) for _ in range(CONCURRENT)))

        responses = asyncio.run(burst())
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * ROOM_FOR + [402] * (CONCURRENT - ROOM_FOR), [r.text for r in responses[:3]]
    refused = next(r.json()["error"] for r in responses if r.status_code == 402)
    assert refused["code"] == "budget_exceeded"
    assert {"limit_usd", "spent_usd", "reserved_usd", "resets_at", "period"} <= set(refused["details"])
    answered = sum(Decimal(str(r.json()["cost_usd"])) for r in responses if r.status_code == 200)

    # The store, after shutdown flushed every record: what was spent is within the budget, and the
    # budget's counter is exactly the attempts' cost.
    spent_by_attempts = query(store_url, "SELECT cost_usd FROM attempts WHERE tenant = 'acme'")
    counters = query(store_url, "SELECT period, spent_usd, reserved_usd FROM budget_usage")
    settled = query(store_url, "SELECT count(*) FROM budget_reservations WHERE state = 'settled'")
    total = sum(_usd(row[0], store_url) for row in spent_by_attempts)
    assert 0 < total <= limit
    assert abs(total - answered) < Decimal("1e-9")
    daily = next(row for row in counters if row[0].startswith("d"))
    assert _usd(daily[1], store_url) == total and _usd(daily[2], store_url) == 0
    assert settled[0][0] == ROOM_FOR


def _usd(raw: object, url: str) -> Decimal:
    """A money column read with plain SQL: SQLite stores 1e-10 USD units as an integer."""
    value = Decimal(str(raw))
    return value.scaleb(-10) if url.startswith("sqlite") else value


def test_downgrade_on_budget_tries_cheaper_tiers_before_refusing(
    simulator: SimulatorServer, catalog: Catalog, provider_keys: dict[str, str], tmp_path: Path,
    migrated_sqlite: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    simulator.reset()
    url = f"sqlite+aiosqlite:///{tmp_path}/router.db"
    shutil.copy(migrated_sqlite, tmp_path / "router.db")
    settings = secured_settings(simulator, catalog, tmp_path, url, monkeypatch)
    # Reasoning has no free model, so the downgrades end in a 402 once even the low tier is spent.
    high = {**REQUEST, "task_type": "reasoning", "budget": "high"}
    with ServiceThread(settings) as service:
        probe_key = tenant_key(service.url, "probe", daily_hard_limit_usd="0.0000000001")
        need = {tier: Decimal(str(httpx.post(service.url + EXECUTE, json={**high, "budget": tier},
                                             headers=auth(probe_key), timeout=30)
                                  .json()["error"]["details"]["requested_usd"]))
                for tier in ("high", "low")}
        assert need["low"] < need["high"]
        # A low-tier call fits, a high-tier one does not.
        room = ((need["low"] + need["high"]) / 2).quantize(Decimal("1e-10"))
        strict = tenant_key(service.url, "strict", daily_hard_limit_usd=str(room))
        flexible = tenant_key(service.url, "flexible", daily_hard_limit_usd=str(room),
                              downgrade_on_budget=True)
        refused = httpx.post(service.url + EXECUTE, json=high, headers=auth(strict), timeout=30)
        assert refused.status_code == 402 and refused.json()["error"]["code"] == "budget_exceeded"
        served = httpx.post(service.url + EXECUTE, json=high, headers=auth(flexible), timeout=30)
        assert served.status_code == 200, served.text
        routed = {k: v for k, v in high.items() if k != "max_tokens"}
        high_chain = httpx.post(f"{service.url}/api/brain/ai-assistant/route", json=routed,
                                headers=auth(flexible)).json()["chain"]
        assert served.json()["provider"] != high_chain[0]["provider"]
        assert Decimal(str(served.json()["cost_usd"])) <= room
        spent = Decimal(str(served.json()["cost_usd"]))
        for _ in range(50):  # cheaper calls until even the cheapest tier no longer fits
            again = httpx.post(service.url + EXECUTE, json=high, headers=auth(flexible), timeout=30)
            if again.status_code != 200:
                break
            spent += Decimal(str(again.json()["cost_usd"]))
        assert again.status_code == 402 and spent <= room
        assert again.json()["error"]["details"]["downgrade_tried"] == ["medium", "low", "free"]


def test_tokens_per_minute_refuse_with_retry_after(
    simulator: SimulatorServer, catalog: Catalog, provider_keys: dict[str, str], tmp_path: Path,
    migrated_sqlite: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    simulator.reset()
    url = f"sqlite+aiosqlite:///{tmp_path}/router.db"
    shutil.copy(migrated_sqlite, tmp_path / "router.db")
    settings = secured_settings(simulator, catalog, tmp_path, url, monkeypatch)
    with ServiceThread(settings) as service:
        key = tenant_key(service.url, "acme", rate_limit_tpm=150)  # one call estimates ~80 tokens
        first = httpx.post(service.url + EXECUTE, json=REQUEST, headers=auth(key), timeout=30)
        second = httpx.post(service.url + EXECUTE, json=REQUEST, headers=auth(key), timeout=30)
    assert first.status_code == 200, first.text
    assert second.status_code == 429
    error = second.json()["error"]
    assert error["code"] == "rate_limited" and error["details"]["limit"] == "tokens_per_minute"
    assert int(second.headers["retry-after"]) >= 1
