"""Keeps a replica's tracker in step with the shared health state in Redis.

The request path never waits here: attempts and transitions are queued and written by one
task; transitions the other replicas make arrive by pub/sub and are enforced on arrival (no
read cache with a lifetime); a resync each second repairs whatever a lost message missed.
Redis unreachable: the tracker keeps enforcing its own state, the outage is logged once, and
when Redis answers again both views are merged (stricter deadline wins) and sharing resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from dataclasses import replace

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from app.health.breaker import Breaker, Transition, merge
from app.health.redis_state import Observation, RedisHealthState, SharedView, decode_event
from app.health.tracker import HealthTracker

log = logging.getLogger(__name__)

MAX_QUEUED = 10_000
MAX_BATCH = 500
CAS_TRIES = 8


def redis_clients(url: str) -> tuple[Redis, Redis]:
    """A command client with short timeouts (an outage must not stall the writer) and a
    pub/sub client without a read timeout (it waits for announcements)."""
    once = Retry(NoBackoff(), 1)  # one retry replaces a pooled connection a restart broke
    commands = Redis.from_url(url, decode_responses=True, socket_timeout=0.5,
                              socket_connect_timeout=0.5, retry=once)
    listener = Redis.from_url(url, decode_responses=True, socket_connect_timeout=0.5,
                              health_check_interval=5, retry=once)
    return commands, listener


class RedisReplicator:
    """The tracker's `Replicator` over Redis (see the module docstring)."""

    def __init__(self, tracker: HealthTracker, state: RedisHealthState, pubsub_client: Redis, *,
                 resync_s: float = 1.0) -> None:
        self.tracker = tracker
        self.state = state
        self.origin = uuid.uuid4().hex
        self._pubsub_client = pubsub_client
        self._resync_s = resync_s
        self._up: bool | None = None  # unknown until the first contact
        self._records: deque[Observation] = deque()
        self._transitions: deque[tuple[str, Transition]] = deque()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.received = 0

    @property
    def active(self) -> bool:
        return self._up is True

    # -- called by the tracker on the request path (no I/O) -------------------------------

    def submit_record(self, provider: str, ok: bool | None, latency_ms: float, now: float,
                      error: str | None) -> None:
        if len(self._records) < MAX_QUEUED:
            self._records.append(Observation(provider, ok, latency_ms, now, error))
            self._wake.set()

    def submit_transition(self, provider: str, fn: Transition) -> None:
        self._transitions.append((provider, fn))
        self._wake.set()

    async def transition_now(self, provider: str, fn: Transition) -> bool:
        """Apply `fn` to the shared state and wait for the answer (the half-open probe slot)."""
        try:
            applied, shared = await self._apply(provider, fn)
        except RedisError as exc:
            self._lost(exc)
            return self.tracker.transition(provider, fn)
        self.tracker.confirm(provider, None, shared)
        return applied

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Join the shared state (or start local if Redis is not there yet) and run the tasks."""
        self.tracker.replicator = self
        await self._recover()
        for name, coro in (("writer", self._writer()), ("listener", self._listener()),
                           ("resync", self._resync_loop())):
            self._tasks.append(asyncio.create_task(coro, name=f"health-{name}"))

    async def stop(self) -> None:
        """Flush what is queued (if Redis answers) and stop the tasks."""
        if self._up:
            with contextlib.suppress(RedisError, OSError):
                await asyncio.wait_for(self._flush(), timeout=2.0)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self.tracker.replicator = None

    # -- tasks ----------------------------------------------------------------------------

    async def _writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._up:
                continue
            try:
                await self._flush()
            except RedisError as exc:
                self._lost(exc)

    async def _flush(self) -> None:
        while self._records or self._transitions:
            if self._records:
                batch = [self._records.popleft() for _ in range(min(MAX_BATCH, len(self._records)))]
                views = await self.state.record(batch)
                failed = {o.provider for o in batch if o.ok is not None}
                for provider, view in views.items():
                    self._absorb(provider, view)
                    if provider in failed:
                        # the thresholds over every replica's attempts, not only ours
                        self.tracker.check_thresholds(provider, batch[-1].at)
            while self._transitions:
                provider, fn = self._transitions[0]
                _, shared = await self._apply(provider, fn)
                self._transitions.popleft()
                self.tracker.confirm(provider, fn, shared)

    async def _listener(self) -> None:
        while True:
            pubsub = self._pubsub_client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.state.channel)
                if self._up:
                    await self._resync()  # what was announced while we were not listening
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._on_event(message["data"])
            except (RedisError, OSError) as exc:
                self._lost(exc)
                await asyncio.sleep(self._resync_s)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _resync_loop(self) -> None:
        while True:
            await asyncio.sleep(self._resync_s)
            try:
                if self._up:
                    await self._resync()
                else:
                    await self._recover()
            except RedisError as exc:
                self._lost(exc)

    # -- the shared state -------------------------------------------------------------------

    def _on_event(self, data: str | bytes) -> None:
        event = decode_event(data)
        if event is None:
            return
        provider, origin, breaker = event
        self.received += 1
        if origin != self.origin:
            self.tracker.adopt(provider, breaker)

    async def _apply(self, provider: str, fn: Transition) -> tuple[bool, Breaker]:
        """Compare-and-set `fn` on the shared breaker, re-applying it after a conflict."""
        current = self.tracker.entry(provider).confirmed
        for _ in range(CAS_TRIES):
            new = fn(current)
            if new == current:
                return False, current
            new = replace(new, epoch=current.epoch + 1)
            reset = new.ejections != current.ejections
            seen = await self.state.compare_and_set(provider, current.epoch, new,
                                                    reset_consec=reset, origin=self.origin)
            if seen is None:
                return True, new
            current = seen
        raise RedisError(f"health state of {provider} kept changing under {CAS_TRIES} tries")

    async def _resync(self) -> None:
        now = self.tracker.clock()
        views = await self.state.read_all(self.tracker.providers, now)
        for provider, view in views.items():
            if view.breaker.epoch < self.tracker.entry(provider).confirmed.epoch:
                await self._reconcile(provider, view.breaker)  # Redis lost what we had confirmed
            self._absorb(provider, view)
        stale = {p: v.stale_fields for p, v in views.items() if v.stale_fields}
        if stale:
            await self.state.prune(stale)

    async def _recover(self) -> None:
        """(Re)join: merge this replica's view into the shared one, then share again."""
        try:
            await self.state.ping()
            views = await self.state.read_all(self.tracker.providers, self.tracker.clock())
            for provider, view in views.items():
                await self._reconcile(provider, view.breaker)
                self._absorb(provider, view)
        except RedisError as exc:
            self._lost(exc)
            return
        if self._up is not True:
            log.info("Redis reachable%s: health state is shared with the other replicas",
                     " again" if self._up is False else "")
        self._up = True

    async def _reconcile(self, provider: str, shared: Breaker) -> None:
        local = self.tracker.entry(provider).breaker
        merged = merge(local, shared)
        if replace(merged, epoch=shared.epoch) == shared:
            self.tracker.confirm(provider, None, shared)
            return
        target = replace(merged, epoch=max(local.epoch, shared.epoch) + 1)
        seen = await self.state.compare_and_set(provider, shared.epoch, target,
                                                reset_consec=False, origin=self.origin)
        self.tracker.confirm(provider, None, target if seen is None else seen)

    def _absorb(self, provider: str, view: SharedView) -> None:
        self.tracker.adopt(provider, view.breaker)
        self.tracker.absorb(provider, consec=view.consec, buckets=view.buckets,
                            last_error=view.last_error)

    def _lost(self, exc: BaseException) -> None:
        if self._up is not False:
            log.warning("Redis unreachable (%s): each replica enforces its own health state "
                        "until it returns", type(exc).__name__)
            self._up = False
            self.tracker.go_local()
        self._records.clear()
        self._transitions.clear()
