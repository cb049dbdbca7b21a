"""Two trackers sharing one real Redis (the test's own redis-server), in one process."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from app.config.catalog import Catalog
from app.config.enums import CircuitState
from app.health.clock import ManualClock
from app.health.redis_state import RedisHealthState
from app.health.replication import RedisReplicator, redis_clients
from app.health.tracker import HealthTracker
from app.health.window import BUCKETS_PER_WINDOW
from app.records import Outcome
from tests.health.factories import attempt, failure
from tests.health.redis_server import RedisServer

P, Q = "deepseek", "mistral"


class Replica:
    """A tracker with its replicator, as one service process holds them."""

    def __init__(self, catalog: Catalog, url: str, prefix: str, clock: ManualClock) -> None:
        self.tracker = HealthTracker(catalog, clock=clock, rng=random.Random())
        self.clients = redis_clients(url)
        window = catalog.health.window_seconds
        state = RedisHealthState(self.clients[0], prefix=prefix, window_s=window,
                                 bucket_s=window / BUCKETS_PER_WINDOW)
        self.replicator = RedisReplicator(self.tracker, state, self.clients[1], resync_s=0.2)

    def state(self, provider: str = P) -> CircuitState:
        return self.tracker.snapshot()[provider].state

    async def close(self) -> None:
        await self.replicator.stop()
        for client in self.clients:
            await client.aclose()


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def pair(catalog: Catalog, redis_server: RedisServer,
               clock: ManualClock) -> AsyncIterator[tuple[Replica, Replica]]:
    prefix = f"test:{uuid.uuid4().hex}:"
    a = Replica(catalog, redis_server.url, prefix, clock)
    b = Replica(catalog, redis_server.url, prefix, clock)
    await a.replicator.start()
    await b.replicator.start()
    yield a, b
    await a.close()
    await b.close()


async def test_an_ejection_by_one_replica_is_enforced_by_the_other(pair: tuple[Replica, Replica]) -> None:
    a, b = pair
    for _ in range(3):
        a.tracker.observe(failure(P))
    assert a.state() is CircuitState.OPEN, "the replica that saw the failures enforces at once"
    await eventually(lambda: b.state() is CircuitState.OPEN)
    assert b.tracker.snapshot()[P].cooldown_until == a.tracker.snapshot()[P].cooldown_until
    assert not await b.tracker.admit(P)


async def test_consecutive_failures_add_up_across_replicas(pair: tuple[Replica, Replica],
                                                          redis_server: RedisServer) -> None:
    a, b = pair
    a.tracker.observe(failure(P))
    a.tracker.observe(failure(P))
    key = a.replicator.state.breaker_key(P)
    async with Redis.from_url(redis_server.url, decode_responses=True) as r:
        for _ in range(200):
            if await r.hget(key, "consec") == "2":
                break
            await asyncio.sleep(0.01)
        assert await r.hget(key, "consec") == "2"
    assert a.state() is CircuitState.CLOSED and b.state() is CircuitState.CLOSED
    b.tracker.observe(failure(P))
    await eventually(lambda: b.state() is CircuitState.OPEN)
    await eventually(lambda: a.state() is CircuitState.OPEN)


async def test_simultaneous_trips_count_one_ejection(pair: tuple[Replica, Replica],
                                                     redis_server: RedisServer) -> None:
    a, b = pair
    for _ in range(3):
        a.tracker.observe(failure(P))
        b.tracker.observe(failure(P))
    await eventually(lambda: not a.tracker.entry(P).pending and not b.tracker.entry(P).pending)
    async with Redis.from_url(redis_server.url, decode_responses=True) as r:
        assert await r.hget(a.replicator.state.breaker_key(P), "ejections") == "1"
    assert a.tracker.entry(P).breaker == b.tracker.entry(P).breaker


async def test_one_probe_across_replicas(pair: tuple[Replica, Replica], clock: ManualClock) -> None:
    a, b = pair
    for _ in range(3):
        a.tracker.observe(failure(P))
    await eventually(lambda: b.state() is CircuitState.OPEN and not a.tracker.entry(P).pending)
    clock.advance(34)
    assert a.state() is CircuitState.HALF_OPEN and b.state() is CircuitState.HALF_OPEN
    granted = await asyncio.gather(a.tracker.admit(P), b.tracker.admit(P))
    assert sorted(granted) == [False, True]
    winner = a if granted[0] else b
    winner.tracker.observe(attempt(P))
    await eventually(lambda: a.state() is CircuitState.CLOSED and b.state() is CircuitState.CLOSED)


async def test_rate_limit_deadline_is_shared_and_never_shortened(pair: tuple[Replica, Replica],
                                                                 clock: ManualClock) -> None:
    a, b = pair
    a.tracker.observe(attempt(P, Outcome.RATE_LIMITED, status=429), retry_after_s=60)
    await eventually(lambda: b.state() is CircuitState.OPEN)
    b.tracker.observe(attempt(P, Outcome.RATE_LIMITED, status=429), retry_after_s=1)
    await asyncio.sleep(0.3)
    for replica in (a, b):
        assert replica.tracker.snapshot()[P].cooldown_until == pytest.approx(clock() + 60)


async def test_redis_outage_falls_back_to_local_state_and_recovers(
        catalog: Catalog, own_redis: RedisServer, clock: ManualClock) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    a = Replica(catalog, own_redis.url, prefix, clock)
    b = Replica(catalog, own_redis.url, prefix, clock)
    await a.replicator.start()
    await b.replicator.start()
    try:
        own_redis.stop()
        for _ in range(3):
            a.tracker.observe(failure(P))
        assert a.state() is CircuitState.OPEN
        await eventually(lambda: not a.replicator.active and not b.replicator.active)
        for _ in range(3):
            a.tracker.observe(failure(Q))
        assert a.state(Q) is CircuitState.OPEN, "local state keeps enforcing"
        b.tracker.observe(attempt(P))
        assert b.state() is CircuitState.CLOSED, "b serves from its own state"
        own_redis.start()
        await eventually(lambda: a.replicator.active and b.replicator.active)
        # what a decided alone is merged into the shared state once Redis is back
        await eventually(lambda: b.state() is CircuitState.OPEN and b.state(Q) is CircuitState.OPEN)
        other = "cohere"
        for _ in range(3):
            b.tracker.observe(failure(other))
        await eventually(lambda: a.state(other) is CircuitState.OPEN)
    finally:
        await a.close()
        await b.close()
