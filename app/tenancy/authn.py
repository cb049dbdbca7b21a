"""From a presented credential to a Principal: the master key, a tenant's key, or 401.

Verified answers (and refusals) are cached for `ttl_s`, keyed by the credential's HMAC, so the
request path costs one HMAC and a dict lookup. Revoking a key evicts it here at once; other
replicas stop accepting it within `ttl_s` (their cache entry expires and the next lookup sees
`revoked_at`). Concurrent first uses of one key share a single database lookup.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import logging
import time
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.errors import ServiceUnavailable, Unauthorized
from app.records import utcnow
from app.store.engine import session_scope
from app.tenancy import apikeys, repository
from app.tenancy.principal import ADMIN, Kind, Principal, Scope

log = logging.getLogger(__name__)

TOUCH_EVERY = dt.timedelta(minutes=1)
LOOKUP_TIMEOUT_S = 2.0
# A database that refuses, drops or stalls a lookup: answered from the cache, else 503, never 500.
STORE_DOWN = (SQLAlchemyError, OSError, TimeoutError)


class Authenticator:
    """Checks credentials against ROUTER_MASTER_KEY and the stored key hashes."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession] | None, *, master_key: str | None,
                 pepper: bytes, ttl_s: float, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sessions = sessions
        self.pepper = pepper
        self.master_digest = apikeys.digest(master_key, pepper) if master_key else None
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._cache: dict[bytes, tuple[float, Principal | None]] = {}
        self._pending: dict[bytes, asyncio.Future[Principal | None]] = {}
        self._background: set[asyncio.Task[None]] = set()

    async def authenticate(self, presented: str) -> Principal:
        """The caller behind `presented`, or Unauthorized (unknown, malformed or revoked key)."""
        raw = apikeys.digest(presented, self.pepper)
        if self.master_digest is not None and hmac.compare_digest(raw, self.master_digest):
            return ADMIN
        now = self.clock()
        hit = self._cache.get(raw)
        if hit is not None and hit[0] > now:
            principal = hit[1]
        else:
            try:
                principal = await self._lookup_once(raw, presented)
            except STORE_DOWN as exc:
                if hit is None:
                    raise ServiceUnavailable(
                        "the key store is unreachable; retry shortly",
                        headers={"retry-after": "2"}, details={"retry_after_s": 2},
                    ) from exc
                # the last verdict stands while the database is away, rather than failing callers
                log.warning("key store unreachable (%s): keeping a cached verdict",
                            type(exc).__name__)
                principal = hit[1]
        if principal is None:
            raise Unauthorized("the API key is unknown or revoked",
                               headers={"www-authenticate": 'Bearer realm="llm-router"'})
        return principal

    def forget(self, key_id: str) -> None:
        """Evict a key from this replica's cache (on revocation)."""
        for raw, (_, principal) in list(self._cache.items()):
            if principal is not None and principal.key_id == key_id:
                del self._cache[raw]

    def forget_tenant(self, tenant_id: str) -> None:
        """Evict a tenant's keys (its limits changed)."""
        for raw, (_, principal) in list(self._cache.items()):
            if principal is not None and principal.tenant is not None and principal.tenant.id == tenant_id:
                del self._cache[raw]

    async def aclose(self) -> None:
        """Let last-use updates in flight finish (they are short), cancel any that hang."""
        if self._background:
            await asyncio.wait(list(self._background), timeout=2)
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def _lookup_once(self, raw: bytes, presented: str) -> Principal | None:
        pending = self._pending.get(raw)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Principal | None] = asyncio.get_running_loop().create_future()
        self._pending[raw] = future
        try:
            async with asyncio.timeout(LOOKUP_TIMEOUT_S):
                principal = await self._lookup(raw, presented)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, no "never retrieved" warning
            raise
        finally:
            self._pending.pop(raw, None)
        future.set_result(principal)
        self._remember(raw, principal)
        return principal

    async def _lookup(self, raw: bytes, presented: str) -> Principal | None:
        prefix = apikeys.prefix_of(presented)
        if prefix is None or self.sessions is None:
            return None
        async with self.sessions() as session:
            found = await repository.key_with_tenant(session, prefix)
        if found is None:
            return None
        key, tenant = found
        if not apikeys.matches(raw, key.key_hash) or key.revoked_at is not None:
            return None
        now = utcnow()
        if key.last_used_at is None or now - key.last_used_at > TOUCH_EVERY:
            self._touch(key.id, now)
        scopes = frozenset(Scope(s) for s in key.scopes if s in Scope.__members__.values())
        return Principal(kind=Kind.TENANT, scopes=scopes, tenant=repository.policy_of(tenant),
                         key_id=key.id, key_prefix=key.prefix)

    def _remember(self, raw: bytes, principal: Principal | None) -> None:
        if self.ttl_s <= 0:
            return
        now = self.clock()
        if len(self._cache) >= self.max_entries:
            for k in [k for k, (exp, _) in self._cache.items() if exp <= now]:
                del self._cache[k]
            while len(self._cache) >= self.max_entries:
                del self._cache[next(iter(self._cache))]
        self._cache[raw] = (now + self.ttl_s, principal)

    def _touch(self, key_id: str, now: dt.datetime) -> None:
        """Record last use off the request path (at most once a minute per key and replica)."""
        if self.sessions is None:
            return
        sessions = self.sessions

        async def run() -> None:
            try:
                async with session_scope(sessions) as session:
                    await repository.touch_key(session, key_id, now)
            except Exception as exc:  # a busy database must not fail the request that used the key
                log.info("could not record last use of key %s: %s", key_id, type(exc).__name__)

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
