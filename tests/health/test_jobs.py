"""Background work: leader locks, active probes, health snapshots and cost alerts from the store."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from app.config.catalog import Alert, Catalog
from app.config.enums import CircuitState
from app.config.settings import Settings
from app.health.alerts import CostAlerts
from app.health.clock import ManualClock
from app.health.jobs import HealthJobs
from app.health.leader import FileLeaderLock, PostgresLeaderLock, RedisLeaderLock
from app.health.prober import probe_target, run_probe
from app.health.repository import cost_between
from app.health.settings import HealthSettings
from app.health.signals import Signal
from app.health.tracker import HealthTracker
from app.records import AttemptRecord, Outcome
from app.store.lifecycle import Store, open_store
from app.store.models import HealthSnapshot
from tests.health.factories import failure
from tests.health.redis_server import RedisServer

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


async def test_one_file_lock_holder_at_a_time(tmp_path: Path) -> None:
    a, b = FileLeaderLock(tmp_path / "l"), FileLeaderLock(tmp_path / "l")
    assert await a.hold() and await a.hold()
    assert not await b.hold()
    await a.release()
    assert await b.hold()
    await b.release()


async def test_redis_lock_is_exclusive_renewed_and_expires(redis_server: RedisServer) -> None:
    key = f"test:{uuid.uuid4().hex}:leader"
    async with Redis.from_url(redis_server.url, decode_responses=True) as client:
        a, b = RedisLeaderLock(client, key, 0.3), RedisLeaderLock(client, key, 0.3)
        assert await a.hold()
        assert not await b.hold()
        assert await a.hold(), "the holder renews"
        await a.release()
        assert await b.hold()
        # a holder that stops renewing loses the lease after its TTL
        await asyncio.sleep(0.45)
        assert await a.hold()
        assert not await b.hold()


@pytest.mark.postgres
async def test_postgres_advisory_lock_is_exclusive() -> None:
    try:
        probe = await asyncpg.connect(PG_URL, timeout=3)
        await probe.close()
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 is not reachable ({exc})")
    name = f"test-leader-{uuid.uuid4().hex}"
    url = PG_URL.replace("postgresql://", "postgresql+asyncpg://")
    a, b = PostgresLeaderLock(url, name), PostgresLeaderLock(url, name)
    try:
        assert await a.hold() and await a.hold()
        assert not await b.hold()
        await a.release()
        assert await b.hold()
    finally:
        await a.release()
        await b.release()


def _client(handler: httpx.MockTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=handler)


async def test_probe_targets_and_verdicts(catalog: Catalog) -> None:
    seen: list[httpx.Request] = []
    replies = {"openai": httpx.Response(200, json={"data": []}),
               "anthropic": httpx.Response(401),
               "gemini": httpx.Response(429, headers={"retry-after": "7"}),
               "cohere": httpx.Response(503)}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        provider = next(p for p in replies if p in request.url.host or p in request.url.path
                        or (p == "gemini" and "googleapis" in request.url.host))
        return replies[provider]

    expected = {"openai": (Signal.SUCCESS, "https://api.openai.com/v1/models", "authorization"),
                "anthropic": (Signal.BAD_KEY, "https://api.anthropic.com/v1/models", "x-api-key"),
                "gemini": (Signal.RATE_LIMITED, "https://generativelanguage.googleapis.com/v1beta/models",
                           "x-goog-api-key"),
                "cohere": (Signal.FAILURE, "https://api.cohere.com/v1/models", "authorization")}
    async with _client(httpx.MockTransport(handler)) as client:
        for provider, (signal, url, header) in expected.items():
            target = probe_target(provider, catalog.providers[provider], "k-123")
            assert target is not None and target.url == url
            result = await run_probe(client, target, 5)
            assert result.signal is signal, provider
            assert "k-123" in seen[-1].headers[header]
            assert seen[-1].method == "GET"
        assert (await run_probe(client, probe_target("gemini", catalog.providers["gemini"], "k"), 5)
                ).retry_after_s == 7
    assert probe_target("bedrock", catalog.providers["bedrock"], "k") is None

    def refuse(_: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    async with _client(httpx.MockTransport(refuse)) as client:
        target = probe_target("openai", catalog.providers["openai"], "k")
        assert target is not None
        assert (await run_probe(client, target, 5)).signal is Signal.FAILURE


class _NoLock:
    """A lock this replica always holds (the leader)."""

    def __init__(self, held: bool = True) -> None:
        self.held = held

    async def hold(self) -> bool:
        return self.held

    async def release(self) -> None:
        return None


async def test_jobs_probe_half_open_and_closed_providers(catalog: Catalog) -> None:
    clock = ManualClock()
    tracker = HealthTracker(catalog, clock=clock)
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        calls.append(host)
        return httpx.Response(503 if "deepseek" in host else 200, json={"data": []})

    env = {spec.api_key_env: "k" for spec in catalog.providers.values()}
    async with _client(httpx.MockTransport(handler)) as client:
        jobs = HealthJobs(tracker, catalog, HealthSettings(probes=True, probe_interval_s=30), lock=_NoLock(),
                          http=client, shared=False, environ=env)
        await jobs.tick()
        await _settle(jobs)
        probed = {p for p, spec in catalog.providers.items() if spec.probe}
        assert len(calls) == len(probed), "every probe-able provider once"
        assert tracker.snapshot()["deepseek"].consecutive_failures == 1, "a failed probe counts"
        assert tracker.snapshot()["mistral"].requests == 0, "a closed provider's good probe does not"
        for _ in range(3):
            tracker.observe(failure("mistral"))
        assert tracker.snapshot()["mistral"].state is CircuitState.OPEN
        clock.advance(40)
        calls.clear()
        await jobs.tick()
        await _settle(jobs)
        assert any("mistral" in c for c in calls), "the half-open provider is probed at once"
        assert tracker.snapshot()["mistral"].state is CircuitState.CLOSED


async def _settle(jobs: HealthJobs) -> None:
    for task in list(jobs._probes.values()):
        await task
    await asyncio.sleep(0)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/router.db", ROUTER_DATA_DIR=tmp_path)
    opened = await open_store(settings)
    yield opened
    await opened.close()


def _priced(provider: str, usd: str, at: dt.datetime) -> AttemptRecord:
    return AttemptRecord(id=str(uuid.uuid4()), decision_id=str(uuid.uuid4()), attempt_order=0,
                         provider=provider, model="m", outcome=Outcome.SUCCESS, task_type="chat",
                         cost_usd=Decimal(usd), created_at=at)


async def test_daily_cost_alert_fires_once_per_day_from_stored_records(
        store: Store, catalog: Catalog, caplog: pytest.LogCaptureFixture) -> None:
    day = dt.datetime(2025, 11, 26, 15, 0, tzinfo=dt.UTC)
    clock = ManualClock(day.timestamp())
    store.writer.submit_attempts([
        _priced("anthropic", "60.50", day - dt.timedelta(hours=3)),
        _priced("openai", "39.25", day - dt.timedelta(hours=1)),
        _priced("openai", "500", day - dt.timedelta(days=1)),  # yesterday: not today's cost
    ])
    assert await store.writer.flush(10)
    posted: list[dict[str, object]] = []

    def webhook(request: httpx.Request) -> httpx.Response:
        posted.append(json.loads(request.content))
        return httpx.Response(204)

    async def cost(start: dt.datetime, end: dt.datetime) -> Decimal:
        async with store.sessions() as session:
            return await cost_between(session, start, end)

    alert = Alert(name="daily_cost_over_100", kind="daily_cost", threshold_usd=Decimal(100),
                  webhook_url="https://hooks.example.test/router")  # type: ignore[arg-type]
    async with _client(httpx.MockTransport(webhook)) as client:
        alerts = CostAlerts((alert,), cost=cost, http=client, clock=clock)
        assert await alerts.check() == [], "99.75 USD today is under the threshold"
        store.writer.submit_attempts([_priced("mistral", "0.50", day - dt.timedelta(minutes=5))])
        assert await store.writer.flush(10)
        with caplog.at_level(logging.WARNING, logger="app.health.alerts"):
            fired = await alerts.check()
            assert await alerts.check() == [], "once per period"
        assert [(f.name, f.cost_usd, f.delivered) for f in fired] == [
            ("daily_cost_over_100", Decimal("100.25"), True)]
        assert posted == [{"alert": "daily_cost_over_100", "kind": "daily_cost", "period": "2025-11-26",
                           "cost_usd": "100.2500000000", "threshold_usd": "100",
                           "text": posted[0]["text"]}]
        assert sum("daily_cost_over_100" in r.getMessage() for r in caplog.records) == 1
        clock.advance(24 * 3600)
        a_minute_ago = dt.datetime.fromtimestamp(clock() - 60, dt.UTC)
        store.writer.submit_attempts([_priced("openai", "150", a_minute_ago)])
        assert await store.writer.flush(10)
        assert [f.period for f in await alerts.check()] == ["2025-11-27"], "a new day, a new alert"


async def test_the_leader_stores_health_snapshots(store: Store, catalog: Catalog) -> None:
    tracker = HealthTracker(catalog)
    for _ in range(3):
        tracker.observe(failure("cohere"))
    async with httpx.AsyncClient() as client:
        follower = HealthJobs(tracker, catalog, HealthSettings(probes=False), lock=_NoLock(held=False),
                              http=client, shared=False, snapshots=store.writer.submit_health_snapshots)
        await follower.tick()
        leader = HealthJobs(tracker, catalog, HealthSettings(probes=False), lock=_NoLock(),
                            http=client, shared=False, snapshots=store.writer.submit_health_snapshots)
        await leader.tick()
        await leader.tick()  # not due again before snapshot_interval_s
    assert await store.writer.flush(10)
    async with store.sessions() as session:
        rows = (await session.execute(sa.select(HealthSnapshot.provider, HealthSnapshot.state))).all()
    assert len(rows) == len(catalog.providers)
    assert dict(rows)["cohere"] == "open"
