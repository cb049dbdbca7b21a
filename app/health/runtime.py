"""Starting and stopping health with the service: shared state, leader lock, background jobs."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING

import httpx

from app.config.catalog import Catalog
from app.config.settings import Settings
from app.health.alerts import CostAlerts, claim_in_memory
from app.health.export import export_all, export_provider
from app.health.jobs import HealthJobs
from app.health.leader import FileLeaderLock, LeaderLock, PostgresLeaderLock, RedisLeaderLock
from app.health.repository import cost_between
from app.health.settings import HealthSettings
from app.health.tracker import HealthTracker
from app.health.window import BUCKETS_PER_WINDOW
from app.providers.pool import default_ssl_context
from app.providers.transport import DeferredTransport

if TYPE_CHECKING:  # redis and the modules over it are imported only when REDIS_URL is set
    from redis.asyncio import Redis

    from app.health.replication import RedisReplicator
    from app.store.lifecycle import Store

log = logging.getLogger(__name__)

LEADER_LOCK_FILE = "health-leader.lock"
ALERT_CLAIM_TTL_S = 3 * 24 * 3600


@dataclass
class HealthRuntime:
    """What the lifespan holds for health; `stop()` undoes `start_health()`."""

    tracker: HealthTracker
    jobs: HealthJobs
    http: httpx.AsyncClient
    replicator: RedisReplicator | None = None
    redis: list[Redis] = field(default_factory=list)

    async def stop(self) -> None:
        await self.jobs.stop()
        if self.replicator is not None:
            await self.replicator.stop()
        for client in self.redis:
            from redis.exceptions import RedisError

            with contextlib.suppress(RedisError, OSError):
                await client.aclose()
        await self.http.aclose()


async def start_health(tracker: HealthTracker, catalog: Catalog, settings: Settings, *,
                       store: Store | None = None,
                       health_settings: HealthSettings | None = None) -> HealthRuntime:
    """Share the tracker through Redis when REDIS_URL is set, and start the background jobs."""
    hs = health_settings or HealthSettings()
    tracker.listeners.append(partial(export_provider, tracker))
    export_all(tracker)
    # The providers' TLS context, at the first probe or alert: loading the CA bundle cost ~50 ms of start-up.
    http = httpx.AsyncClient(follow_redirects=False, timeout=hs.probe_timeout_s,
                             transport=DeferredTransport(default_ssl_context))
    replicator = None
    clients: list[Redis] = []
    lock: LeaderLock
    claim = claim_in_memory
    if settings.redis_url:
        from app.health.redis_state import RedisHealthState
        from app.health.replication import RedisReplicator, redis_clients

        commands, listener = redis_clients(settings.redis_url)
        clients = [commands, listener]
        window = catalog.health.window_seconds
        state = RedisHealthState(commands, prefix=hs.redis_prefix, window_s=window,
                                 bucket_s=window / BUCKETS_PER_WINDOW)
        replicator = RedisReplicator(tracker, state, listener, resync_s=hs.resync_s)
        await replicator.start()
        lock = RedisLeaderLock(commands, f"{hs.redis_prefix}leader", hs.leader_ttl_s)
        claim = partial(_claim_in_redis, commands, f"{hs.redis_prefix}alert:")
    elif settings.database_url.startswith("postgresql"):
        lock = PostgresLeaderLock(settings.database_url, f"{hs.redis_prefix}leader")
    else:
        lock = FileLeaderLock(settings.data_dir / LEADER_LOCK_FILE)
    alerts = None
    if store is not None and catalog.alerts:
        alerts = CostAlerts(catalog.alerts, cost=partial(_stored_cost, store), http=http,
                            clock=tracker.clock, claim=claim)
    jobs = HealthJobs(
        tracker, catalog, hs, lock=lock, http=http, shared=replicator is not None,
        snapshots=store.writer.submit_health_snapshots if store is not None else None,
        alerts=alerts,
    )
    await jobs.start()
    log.info("health: %s state, probes %s", "Redis-shared" if replicator else "in-process",
             "on" if hs.probes else "off")
    return HealthRuntime(tracker=tracker, jobs=jobs, http=http, replicator=replicator, redis=clients)


async def _stored_cost(store: Store, start: dt.datetime, end: dt.datetime) -> Decimal:
    async with store.sessions() as session:
        return await cost_between(session, start, end)


async def _claim_in_redis(client: Redis, prefix: str, name: str) -> bool:
    from redis.exceptions import RedisError

    try:
        return bool(await client.set(f"{prefix}{name}", "1", nx=True, ex=ALERT_CLAIM_TTL_S))
    except RedisError:
        return True  # better a repeated alert than a lost one
