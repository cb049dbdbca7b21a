"""Health state in Redis: one hash per provider for the breaker and its counters, one for the
window buckets, and a channel that announces every transition to the other replicas.

Deadlines are absolute epoch seconds. Transitions are compare-and-set on the breaker's
`epoch` (a Lua script, atomic on the server), so two replicas tripping the same provider at
once count one ejection; counters are plain increments, batched in one pipelined round trip.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import orjson
from redis.asyncio import Redis

from app.health.breaker import Breaker
from app.health.window import parse_fields

BREAKER_FIELDS = tuple(f.name for f in fields(Breaker))

# KEYS: breaker hash, channel. ARGV: expected epoch, reset consec (0/1), message, field values.
CAS_SCRIPT = """
local current = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
if current ~= tonumber(ARGV[1]) then
  return redis.call('HGETALL', KEYS[1])
end
redis.call('HSET', KEYS[1], 'epoch', ARGV[4], 'ejections', ARGV[5], 'cooldown_until', ARGV[6],
           'probe_until', ARGV[7], 'half_open_ok', ARGV[8], 'reset_at', ARGV[9])
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'consec', '0')
end
redis.call('PUBLISH', KEYS[2], ARGV[3])
return 1
"""


@dataclass(frozen=True, slots=True)
class Observation:
    """One counted attempt (ok None: only `last_error` changes, e.g. a 429 or a bad key)."""

    provider: str
    ok: bool | None
    latency_ms: float
    at: float
    error: str | None


@dataclass(frozen=True, slots=True)
class SharedView:
    """A provider as Redis holds it: breaker, consecutive failures, last error, window."""

    breaker: Breaker
    consec: int
    last_error: str | None
    buckets: dict[int, list[float]]
    stale_fields: tuple[str, ...] = ()


def breaker_from(raw: Mapping[str, str]) -> Breaker:
    """Decode a breaker hash (missing fields: a closed breaker at epoch 0)."""
    return Breaker(
        epoch=int(raw.get("epoch", 0)),
        ejections=int(raw.get("ejections", 0)),
        cooldown_until=float(raw.get("cooldown_until", 0.0)),
        probe_until=float(raw.get("probe_until", 0.0)),
        half_open_ok=int(raw.get("half_open_ok", 0)),
        reset_at=float(raw.get("reset_at", 0.0)),
    )


def breaker_dict(b: Breaker) -> dict[str, Any]:
    return {name: getattr(b, name) for name in BREAKER_FIELDS}


class RedisHealthState:
    """The shared health state of every replica, under one key prefix."""

    def __init__(self, client: Redis, *, prefix: str, window_s: float, bucket_s: float) -> None:
        self.client = client
        self.prefix = prefix
        self.channel = f"{prefix}events"
        self.window_s = window_s
        self.bucket_s = bucket_s
        self._cas = client.register_script(CAS_SCRIPT)

    def breaker_key(self, provider: str) -> str:
        return f"{self.prefix}breaker:{provider}"

    def window_key(self, provider: str) -> str:
        return f"{self.prefix}window:{provider}"

    async def ping(self) -> None:
        await self.client.ping()

    async def record(self, batch: Sequence[Observation]) -> dict[str, SharedView]:
        """Count a batch of attempts and read back the touched providers, in one round trip."""
        pipe = self.client.pipeline(transaction=True)
        touched: dict[str, None] = {}
        ttl = int(self.window_s * 2) + 1
        for obs in batch:
            touched[obs.provider] = None
            bkey = self.breaker_key(obs.provider)
            if obs.ok is not None:
                wkey = self.window_key(obs.provider)
                idx = int(obs.at // self.bucket_s)
                if obs.ok:
                    pipe.hincrby(wkey, f"{idx}:ok", 1)
                    pipe.hincrbyfloat(wkey, f"{idx}:lat", obs.latency_ms)
                    pipe.hset(bkey, "consec", 0)
                else:
                    pipe.hincrby(wkey, f"{idx}:f", 1)
                    pipe.hincrby(bkey, "consec", 1)
                pipe.expire(wkey, ttl)
            if obs.error is not None:
                pipe.hset(bkey, "last_error", obs.error)
        self._read(pipe, touched)
        results = await pipe.execute()
        return self._views(list(touched), results[len(results) - 2 * len(touched):], batch[-1].at)

    async def read_all(self, providers: Iterable[str], now: float) -> dict[str, SharedView]:
        """Every provider's shared view, in one round trip."""
        names = list(providers)
        pipe = self.client.pipeline(transaction=False)
        self._read(pipe, dict.fromkeys(names))
        return self._views(names, await pipe.execute(), now)

    async def compare_and_set(self, provider: str, expected_epoch: int, new: Breaker, *,
                              reset_consec: bool, origin: str) -> Breaker | None:
        """Write `new` if the shared epoch is still `expected_epoch`; else return the shared one."""
        message = orjson.dumps({"provider": provider, "origin": origin, "breaker": breaker_dict(new)})
        args: list[Any] = [expected_epoch, "1" if reset_consec else "0", message]
        args += [repr(getattr(new, name)) if isinstance(getattr(new, name), float)
                 else getattr(new, name) for name in BREAKER_FIELDS]
        result = await self._cas(keys=[self.breaker_key(provider), self.channel], args=args)
        if result == 1:
            return None
        flat = list(result)
        return breaker_from(dict(zip(flat[::2], flat[1::2], strict=True)))

    async def prune(self, stale: Mapping[str, Sequence[str]]) -> None:
        """Drop window buckets that have left the window."""
        pipe = self.client.pipeline(transaction=False)
        for provider, names in stale.items():
            if names:
                pipe.hdel(self.window_key(provider), *names)
        await pipe.execute()

    def _read(self, pipe: Any, providers: Iterable[str]) -> None:
        for provider in providers:
            pipe.hgetall(self.breaker_key(provider))
            pipe.hgetall(self.window_key(provider))

    def _views(self, names: list[str], results: list[Any], now: float) -> dict[str, SharedView]:
        lowest = int((now - self.window_s) // self.bucket_s)
        out = {}
        for i, name in enumerate(names):
            braw: dict[str, str] = results[2 * i]
            wraw: dict[str, str] = results[2 * i + 1]
            buckets = parse_fields(wraw.items())
            stale = tuple(k for k in wraw if _bucket_of(k) <= lowest)
            out[name] = SharedView(
                breaker=breaker_from(braw), consec=int(braw.get("consec", 0)),
                last_error=braw.get("last_error") or None,
                buckets={k: v for k, v in buckets.items() if k > lowest}, stale_fields=stale,
            )
        return out


def decode_event(data: str | bytes) -> tuple[str, str, Breaker] | None:
    """A transition announced on the channel: (provider, origin, breaker), or None if garbled."""
    try:
        msg = orjson.loads(data)
        return msg["provider"], msg["origin"], breaker_from(
            {k: str(v) for k, v in msg["breaker"].items()})
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def _bucket_of(field: str) -> int:
    head = field.partition(":")[0]
    return int(head) if head.lstrip("-").isdigit() else -(2**62)
