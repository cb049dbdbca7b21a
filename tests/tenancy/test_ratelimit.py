"""Token buckets: the refill arithmetic, and one bucket shared by two replicas through Redis."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.tenancy.ratelimit import LocalBuckets, RedisBuckets, retry_after_header

REDIS_URL = os.environ.get("ROUTER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class Ticker:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_bucket_allows_a_minute_then_refills_continuously() -> None:
    clock = Ticker()
    buckets = LocalBuckets(clock)
    assert all([await buckets.take("t", 1, per_minute=60) is None for _ in range(60)])
    wait = await buckets.take("t", 1, per_minute=60)
    assert wait == pytest.approx(1.0)
    clock.now += 0.5
    assert await buckets.take("t", 1, per_minute=60) == pytest.approx(0.5)
    clock.now += 0.5
    assert await buckets.take("t", 1, per_minute=60) is None
    assert await buckets.take("other", 1, per_minute=60) is None  # buckets are per key


async def test_tokens_per_minute_and_an_oversized_request() -> None:
    clock = Ticker()
    buckets = LocalBuckets(clock)
    assert await buckets.take("t", 900, per_minute=1000) is None
    assert await buckets.take("t", 200, per_minute=1000) == pytest.approx(100 / (1000 / 60))
    clock.now += 60
    # Bigger than a whole minute's allowance: waits for a full bucket instead of never passing.
    assert await buckets.take("t", 5000, per_minute=1000) is None
    assert await buckets.take("t", 1, per_minute=1000) is not None


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert [retry_after_header(w) for w in (0.01, 1.0, 1.2, 59.9)] == ["1", "1", "2", "60"]


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required in CI and unreachable at {REDIS_URL}: {exc}")
        pytest.skip(f"Redis unreachable at {REDIS_URL} and CI is not true: {exc}")
    finally:
        await client.aclose()
    yield REDIS_URL


@pytest.mark.redis
async def test_two_replicas_share_one_bucket_through_redis(redis_url: str) -> None:
    prefix = f"test-rl-{secrets.token_hex(6)}"
    one = RedisBuckets(Redis.from_url(redis_url), prefix=prefix)
    two = RedisBuckets(Redis.from_url(redis_url), prefix=prefix)
    try:
        taken = [await (one if i % 2 else two).take("rpm:t", 1, per_minute=10) for i in range(10)]
        assert taken == [None] * 10
        wait = await one.take("rpm:t", 1, per_minute=10)
        assert wait is not None and 0 < wait <= 6.0
        assert await two.take("rpm:t", 1, per_minute=10) is not None
        assert await two.take("rpm:other", 1, per_minute=10) is None
        keys = [k async for k in one.client.scan_iter(match=f"{prefix}:*")]
        assert len(keys) == 2
        assert all([await one.client.ttl(k) > 0 for k in keys])  # buckets expire when idle
    finally:
        keys = [k async for k in one.client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await one.client.delete(*keys)
        await one.aclose()
        await two.aclose()


async def test_redis_unreachable_falls_back_to_this_replicas_buckets() -> None:
    # Port 9 (discard) is closed on loopback: every call fails fast.
    limiter = RedisBuckets(Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.2),
                           prefix="unused")
    try:
        assert [await limiter.take("rpm:t", 1, per_minute=2) for _ in range(2)] == [None, None]
        assert await limiter.take("rpm:t", 1, per_minute=2) is not None
    finally:
        await limiter.aclose()


@pytest.mark.redis
async def test_the_service_shares_buckets_through_redis_when_redis_url_is_set(redis_url: str) -> None:
    from app.config.settings import Settings
    from app.tenancy.service import Tenancy
    from app.tenancy.settings import TenancySettings

    prefix = f"test-svc-{secrets.token_hex(6)}"
    options = TenancySettings(ROUTER_REDIS_PREFIX=prefix)
    replicas = [await Tenancy.open(Settings(redis_url=redis_url), None, options) for _ in range(2)]
    try:
        assert all(isinstance(r.limiter, RedisBuckets) for r in replicas)
        taken = [await replicas[i % 2].limiter.take("rpm:t", 1, per_minute=4) for i in range(5)]
        assert taken[:4] == [None] * 4 and taken[4] is not None
    finally:
        client = Redis.from_url(redis_url)
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
        for replica in replicas:
            await replica.aclose()
