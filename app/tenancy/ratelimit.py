"""Per-tenant token buckets (requests and tokens per minute): in-process, or shared through Redis.

A bucket holds up to one minute's allowance and refills continuously. `take` answers None when
the amount was taken, else the seconds until it could be (the 429's Retry-After). With Redis the
refill and the take are one Lua script on the server clock, so replicas share one bucket and
never race; if Redis cannot be reached the replica falls back to its own buckets (fail open on
the limit, logged) rather than refusing every request.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # redis is imported only when REDIS_URL is set (it costs ~14 MiB with its deps)
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

TAKE_SCRIPT = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local amount = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= amount then
  tokens = tokens - amount
else
  wait = (amount - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return tostring(wait)
"""


class RateLimiter(Protocol):
    async def take(self, key: str, amount: float, *, per_minute: int) -> float | None: ...

    async def aclose(self) -> None: ...


def _bounded(amount: float, per_minute: int) -> float:
    # A single request larger than a whole minute's allowance waits for a full bucket, not forever.
    return min(max(amount, 0.0), float(per_minute))


class LocalBuckets:
    """Buckets in this process (one replica, or Redis unreachable)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    async def take(self, key: str, amount: float, *, per_minute: int) -> float | None:
        return self.take_now(key, amount, per_minute=per_minute)

    def take_now(self, key: str, amount: float, *, per_minute: int) -> float | None:
        capacity = float(per_minute)
        rate = capacity / 60.0
        amount = _bounded(amount, per_minute)
        now = self.clock()
        tokens, ts = self._buckets.get(key, (capacity, now))
        tokens = min(capacity, tokens + max(0.0, now - ts) * rate)
        wait: float | None = None
        if tokens >= amount:
            tokens -= amount
        else:
            wait = (amount - tokens) / rate
        if len(self._buckets) >= self.max_keys and key not in self._buckets:
            self._buckets.clear()  # only full buckets are lost: they would have refilled anyway
        self._buckets[key] = (tokens, now)
        return wait

    async def aclose(self) -> None:
        return None


class RedisBuckets:
    """Buckets shared by every replica, one hash per tenant and kind under `prefix`."""

    def __init__(self, client: Redis, *, prefix: str, fallback: LocalBuckets | None = None) -> None:
        from redis.exceptions import RedisError

        self._errors = (RedisError, OSError)
        self.client = client
        self.prefix = prefix
        self.fallback = fallback or LocalBuckets()
        self._script = client.register_script(TAKE_SCRIPT)
        self._failing = False

    async def take(self, key: str, amount: float, *, per_minute: int) -> float | None:
        amount = _bounded(amount, per_minute)
        try:
            raw = await self._script(keys=[f"{self.prefix}:rl:{key}"],
                                     args=[per_minute, per_minute / 60.0, amount])
        except self._errors as exc:
            if not self._failing:
                log.warning("rate limits: Redis unreachable (%s), using this replica's buckets",
                            type(exc).__name__)
                self._failing = True
            return self.fallback.take_now(key, amount, per_minute=per_minute)
        if self._failing:
            log.warning("rate limits: Redis is back, buckets are shared again")
            self._failing = False
        wait = float(raw.decode() if isinstance(raw, bytes) else raw)
        return None if wait <= 0 else wait

    async def aclose(self) -> None:
        await self.client.aclose()


def retry_after_header(wait_s: float) -> str:
    """Whole seconds, at least 1 (Retry-After takes an integer)."""
    return str(max(1, math.ceil(wait_s)))
