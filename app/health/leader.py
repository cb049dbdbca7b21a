"""Who runs the singleton jobs when several replicas run: a Redis lock, a PostgreSQL advisory
lock, or (one host, SQLite) a file lock. `hold()` acquires or renews, once per tick."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import uuid
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # redis only with REDIS_URL, asyncpg only with PostgreSQL (not for SQLite)
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

RENEW_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class LeaderLock(Protocol):
    """A lease on the singleton jobs."""

    async def hold(self) -> bool: ...

    async def release(self) -> None: ...


class RedisLeaderLock:
    """SET NX PX with an owner token; renewed each tick, lost if not renewed within the TTL."""

    def __init__(self, client: Redis, key: str, ttl_s: float) -> None:
        from redis.exceptions import RedisError

        self._errors = RedisError
        self.client = client
        self.key = key
        self.owner = uuid.uuid4().hex
        self.ttl_ms = int(ttl_s * 1000)
        self._renew = client.register_script(RENEW_SCRIPT)
        self._release = client.register_script(RELEASE_SCRIPT)

    async def hold(self) -> bool:
        try:
            if await self._renew(keys=[self.key], args=[self.owner, self.ttl_ms]) == 1:
                return True
            return bool(await self.client.set(self.key, self.owner, nx=True, px=self.ttl_ms))
        except self._errors:
            return False  # no Redis, no leader: the singleton jobs wait for it

    async def release(self) -> None:
        with contextlib.suppress(self._errors):
            await self._release(keys=[self.key], args=[self.owner])


def advisory_key(name: str) -> int:
    """A stable signed 64-bit lock id for a name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class PostgresLeaderLock:
    """pg_try_advisory_lock on a connection of its own: held while that session lives."""

    def __init__(self, dsn: str, name: str) -> None:
        import asyncpg

        self._asyncpg = asyncpg
        self._errors = (OSError, asyncpg.PostgresError, TimeoutError)
        self.dsn = dsn.replace("postgresql+asyncpg://", "postgresql://", 1)
        self.key = advisory_key(name)
        self._conn: Any = None
        self._held = False

    async def hold(self) -> bool:
        try:
            if self._conn is None or self._conn.is_closed():
                self._held = False
                self._conn = await self._asyncpg.connect(self.dsn, timeout=3)
            if self._held:
                await self._conn.fetchval("SELECT 1")  # the lease lives as long as the session
            else:
                self._held = bool(await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key))
        except self._errors:
            await self.release()
            return False
        return self._held

    async def release(self) -> None:
        conn, self._conn, self._held = self._conn, None, False
        if conn is not None:
            with contextlib.suppress(*self._errors):
                await conn.close(timeout=2)


class FileLeaderLock:
    """flock on a file: the uvicorn workers of one host agree without any server."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    async def hold(self) -> bool:
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        log.debug("process %d leads the health jobs (%s)", os.getpid(), self.path)
        return True

    async def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
