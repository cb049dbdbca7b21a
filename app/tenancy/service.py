"""Tenancy: the authenticator, the rate limiter and the budgets of one process, opened in the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config.settings import Settings
from app.logs import register_secret
from app.tenancy import repository
from app.tenancy.authn import LOOKUP_TIMEOUT_S, STORE_DOWN, Authenticator
from app.tenancy.budgets import Budgets
from app.tenancy.principal import TenantPolicy
from app.tenancy.ratelimit import LocalBuckets, RateLimiter, RedisBuckets
from app.tenancy.settings import TenancySettings

log = logging.getLogger(__name__)


@dataclass
class Tenancy:
    """Everything the request edge and the pipeline need to know about tenants."""

    options: TenancySettings
    auth_enabled: bool
    authenticator: Authenticator
    limiter: RateLimiter
    budgets: Budgets | None
    sessions: async_sessionmaker[AsyncSession] | None
    _policies: dict[str, tuple[float, TenantPolicy | None]] = field(default_factory=dict)
    _sweeper: asyncio.Task[None] | None = None
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    @classmethod
    async def open(cls, settings: Settings, sessions: async_sessionmaker[AsyncSession] | None,
                   options: TenancySettings | None = None) -> Tenancy:
        """Build the parts; the budget sweeper starts here and stops in `aclose`."""
        options = options or TenancySettings()
        secret = settings.router_master_key
        master = secret.get_secret_value() if secret is not None and settings.auth_enabled else None
        register_secret(master)
        limiter: RateLimiter = LocalBuckets()
        if settings.redis_url:
            from redis.asyncio import Redis  # only with REDIS_URL: redis costs ~14 MiB with its deps

            limiter = RedisBuckets(Redis.from_url(settings.redis_url, socket_timeout=1.0,
                                                  socket_connect_timeout=1.0),
                                   prefix=options.redis_prefix)
        tenancy = cls(
            options=options, auth_enabled=settings.auth_enabled,
            authenticator=Authenticator(sessions, master_key=master, pepper=options.pepper,
                                        ttl_s=options.auth_cache_ttl_s, max_entries=options.auth_cache_size),
            limiter=limiter,
            budgets=Budgets(sessions, grace_s=options.reservation_grace_s) if sessions is not None else None,
            sessions=sessions,
        )
        if tenancy.budgets is not None:
            tenancy._sweeper = asyncio.get_running_loop().create_task(tenancy._sweep_forever())
        return tenancy

    async def policy_for(self, name: str) -> TenantPolicy | None:
        """A tenant's limits by name (for tags when authentication is off, or the admin's), cached."""
        now = time.monotonic()
        hit = self._policies.get(name)
        if hit is not None and hit[0] > now:
            return hit[1]
        policy = None
        if self.sessions is not None:
            try:
                async with asyncio.timeout(LOOKUP_TIMEOUT_S), self.sessions() as session:
                    tenant = await repository.tenant_by_name(session, name)
            except STORE_DOWN as exc:
                # the request must not fail with the database: last known limits, else none
                log.warning("tenant limits unreachable (%s); serving %s with %s until it answers",
                            type(exc).__name__, name, "its last known limits" if hit else "no limits")
                self._policies[name] = (now + 1.0, hit[1] if hit else None)
                return hit[1] if hit else None
            policy = repository.policy_of(tenant) if tenant is not None else None
        if len(self._policies) > 10_000:
            self._policies.clear()
        self._policies[name] = (now + self.options.auth_cache_ttl_s, policy)
        return policy

    def forget_tenant(self, tenant_id: str, name: str) -> None:
        """Drop cached limits of a tenant whose settings changed (this replica at once, others by TTL)."""
        self._policies.pop(name, None)
        self.authenticator.forget_tenant(tenant_id)

    def spawn(self, coro: Coroutine[object, object, None]) -> None:
        """Run work that must outlive its request (a settlement after a cancel); awaited at close."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self) -> None:
        if self._background:
            await asyncio.wait(self._background, timeout=5)
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.authenticator.aclose()
        await self.limiter.aclose()

    async def _sweep_forever(self) -> None:
        assert self.budgets is not None
        while True:
            await asyncio.sleep(self.options.sweep_interval_s)
            try:
                await self.budgets.sweep()
            except Exception as exc:  # a database outage must not end the sweeper
                log.warning("budget sweep failed: %s", type(exc).__name__)
