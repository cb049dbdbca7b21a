"""The health tracker: the breaker state this replica enforces, fed by every attempt.

It is the in-process state backend. With Redis, a replicator (app/health/replication.py)
shares counters and transitions: a transition applies here at once and is kept as pending
until the shared state confirms it, so enforcement never waits on a round trip, and what the
other replicas decide arrives by pub/sub into `confirmed`. The router reads `snapshot()`.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from app.config.catalog import Catalog, HealthThresholds
from app.config.enums import CircuitState
from app.health.breaker import (
    Breaker,
    Transition,
    eject_bad_key,
    probe_succeeded,
    rate_limited,
    release_probe,
    take_probe,
    trip,
)
from app.health.clock import Clock, system_clock
from app.health.signals import Signal, classify, describe_error
from app.health.window import Buckets, WindowStats, is_degraded, should_trip
from app.records import AttemptRecord
from app.routing.schemas import ProviderHealth

log = logging.getLogger(__name__)

BAD_KEY_ERROR = "misconfigured key"


class Replicator(Protocol):
    """What the tracker asks of a shared state backend."""

    @property
    def active(self) -> bool: ...

    def submit_record(self, provider: str, ok: bool | None, latency_ms: float, now: float,
                      error: str | None) -> None: ...

    def submit_transition(self, provider: str, fn: Transition) -> None: ...

    async def transition_now(self, provider: str, fn: Transition) -> bool: ...


@dataclass(eq=False)
class Entry:
    """One provider: confirmed shared breaker, local pending transitions, counters, cached view."""

    name: str
    window: Buckets
    probe_ttl_s: float
    confirmed: Breaker = field(default_factory=Breaker)
    pending: list[Transition] = field(default_factory=list)
    breaker: Breaker = field(default_factory=Breaker)
    consec: int = 0
    last_error: str | None = None
    view: ProviderHealth | None = None
    view_until: float = 0.0


class HealthTracker:
    """Passive health per provider and its circuit breaker (the `HealthSource` of records.py)."""

    def __init__(self, catalog: Catalog, *, clock: Clock = system_clock,
                 rng: random.Random | None = None) -> None:
        self.thresholds: HealthThresholds = catalog.health
        self.clock = clock
        self._rng = rng or random.Random()
        self._entries = {
            name: Entry(name=name, window=Buckets(self.thresholds.window_seconds),
                        probe_ttl_s=spec.timeouts.connect_s + spec.timeouts.read_s)
            for name, spec in catalog.providers.items()
        }
        self.replicator: Replicator | None = None
        self.listeners: list[Callable[[str], None]] = []
        self._snap: dict[str, ProviderHealth] = {}
        self._snap_until = -math.inf
        self._stale: set[Entry] = set()

    @property
    def providers(self) -> list[str]:
        return list(self._entries)

    def entry(self, provider: str) -> Entry:
        return self._entries[provider]

    # -- what the router and the executor call -------------------------------------------

    def snapshot(self) -> dict[str, ProviderHealth]:
        """Every provider's health now; views are rebuilt only when they change or age."""
        now = self.clock()
        if now >= self._snap_until:  # some view has aged: look at all of them
            for e in self._entries.values():
                if e.view is None or now >= e.view_until:
                    self._rebuild(e, now)
            self._snap_until = min(e.view_until for e in self._entries.values())
            self._stale.clear()
        elif self._stale:  # only what changed since the last call (usually one provider)
            for e in self._stale:
                self._rebuild(e, now)
                self._snap_until = min(self._snap_until, e.view_until)
            self._stale.clear()
        return dict(self._snap)

    def _rebuild(self, e: Entry, now: float) -> None:
        e.view, e.view_until = self._view(e, now)
        self._snap[e.name] = e.view

    def observe(self, attempt: AttemptRecord, *, retry_after_s: float | None = None) -> None:
        """Take one attempt's outcome into the window, the counters and the breaker."""
        e = self._entries.get(attempt.provider)
        if e is None:
            return
        signal = classify(attempt)
        error = None if signal is Signal.SUCCESS else describe_error(attempt)
        self.observe_signal(attempt.provider, signal, latency_ms=attempt.latency_ms, error=error,
                            retry_after_s=retry_after_s)

    async def admit(self, provider: str, *, panic: bool = False) -> bool:
        """May an attempt go to `provider` now? Half-open admits one probe across all replicas."""
        e = self._entries.get(provider)
        if e is None:
            return True
        now = self.clock()
        state = e.breaker.state(now)
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.OPEN or e.breaker.probing(now):
            return panic
        fn = take_probe(now, e.probe_ttl_s)
        if self.replicator is not None and self.replicator.active:
            return await self.replicator.transition_now(provider, fn)
        return self.transition(provider, fn)

    def observe_signal(self, provider: str, signal: Signal, *, latency_ms: float = 0.0,
                       error: str | None = None, retry_after_s: float | None = None) -> None:
        """The tracker's one entry point for a health signal (attempts and active probes)."""
        e = self._entries[provider]
        now = self.clock()
        if signal is Signal.NEUTRAL:
            self.transition(provider, release_probe(now))
            return
        if signal is Signal.RATE_LIMITED:
            self._set_error(e, now, "rate limited (HTTP 429)")
            self.transition(provider, rate_limited(now, retry_after_s))
            return
        if signal is Signal.BAD_KEY:
            self._set_error(e, now, f"{BAD_KEY_ERROR} ({error})" if error else BAD_KEY_ERROR)
            if self.transition(provider, eject_bad_key(now, self.thresholds)):
                log.error("ALERT %s: provider %s rejected our API key (%s); ejected for %.0f s",
                          BAD_KEY_ERROR, provider, error, self.thresholds.bad_key_eject_s)
            return
        ok = signal is Signal.SUCCESS
        e.window.add(now, ok, latency_ms)
        e.consec = 0 if ok else e.consec + 1
        if not ok:
            e.last_error = error
        self._invalidate(e)
        if self.replicator is not None and self.replicator.active:
            self.replicator.submit_record(provider, ok, latency_ms, now, error)
        self.evaluate(provider, ok=ok, now=now)

    # -- transitions ----------------------------------------------------------------------

    def evaluate(self, provider: str, *, ok: bool, now: float) -> None:
        """Apply the breaker rules to the counters after one success or failure."""
        th = self.thresholds
        if self._entries[provider].breaker.state(now) is CircuitState.HALF_OPEN:
            fn = probe_succeeded(now, th) if ok else trip(now, th, self._rng.random())
            self.transition(provider, fn)
        else:
            self.check_thresholds(provider, now)

    def check_thresholds(self, provider: str, now: float) -> None:
        """Eject a closed provider whose counters pass a threshold."""
        e = self._entries[provider]
        th = self.thresholds
        if e.breaker.state(now) is CircuitState.CLOSED and should_trip(e.consec, self.stats(e, now), th):
            self.transition(provider, trip(now, th, self._rng.random()))

    def transition(self, provider: str, fn: Transition) -> bool:
        """Apply a transition here at once; share it when a replicator is active."""
        e = self._entries[provider]
        new = fn(e.breaker)
        if new == e.breaker:
            return False
        old = e.breaker
        if self.replicator is not None and self.replicator.active:
            e.pending.append(fn)
            e.breaker = new
            self.replicator.submit_transition(provider, fn)
        else:
            e.confirmed = e.breaker = replace(new, epoch=e.confirmed.epoch + 1)
        self._changed(e, old, local=True)
        return True

    def confirm(self, provider: str, fn: Transition | None, shared: Breaker) -> None:
        """The shared state answered a transition (or was read): it becomes `confirmed`."""
        e = self._entries[provider]
        if fn is not None and fn in e.pending:
            e.pending.remove(fn)
        e.confirmed = shared
        self._refold(e)

    def adopt(self, provider: str, shared: Breaker) -> bool:
        """Another replica's transition (pub/sub or resync): taken when newer than ours."""
        e = self._entries.get(provider)
        if e is None or shared.epoch <= e.confirmed.epoch:
            return False
        e.confirmed = shared
        self._refold(e)
        return True

    def absorb(self, provider: str, *, consec: int, buckets: dict[int, list[float]],
               last_error: str | None) -> None:
        """Take the shared counters (every replica's attempts) in place of the local ones."""
        e = self._entries[provider]
        e.consec = consec
        e.window.replace(buckets)
        e.last_error = last_error or e.last_error
        self._invalidate(e)

    def go_local(self) -> None:
        """The shared state is gone: what this replica enforces becomes its own truth."""
        for e in self._entries.values():
            e.pending.clear()
            e.confirmed = e.breaker

    def stats(self, e: Entry, now: float) -> WindowStats:
        return e.window.stats(now, self.thresholds.window_seconds, e.breaker.reset_at)

    def _set_error(self, e: Entry, now: float, error: str) -> None:
        e.last_error = error
        self._invalidate(e)
        if self.replicator is not None and self.replicator.active:
            self.replicator.submit_record(e.name, None, 0.0, now, error)

    def _refold(self, e: Entry) -> None:
        old = e.breaker
        b = e.confirmed
        for fn in e.pending:
            b = fn(b)
        e.breaker = b
        if b != old:
            self._changed(e, old, local=False)

    def _changed(self, e: Entry, old: Breaker, *, local: bool) -> None:
        new = e.breaker
        if new.ejections != old.ejections:
            e.consec = 0
        if local and new.ejections > old.ejections:
            log.warning("provider %s ejected (ejection %d) until %s: %s", e.name, new.ejections,
                        _iso(new.cooldown_until), e.last_error)
        elif local and old.ejections and not new.ejections:
            log.info("provider %s closed again after a successful probe", e.name)
        self._invalidate(e)
        for listener in self.listeners:
            listener(e.name)

    def _invalidate(self, e: Entry) -> None:
        e.view = None
        self._stale.add(e)

    def _view(self, e: Entry, now: float) -> tuple[ProviderHealth, float]:
        b = e.breaker
        state = b.state(now)
        stats = self.stats(e, now)
        cooldown: float | None = b.cooldown_until if state is CircuitState.OPEN else None
        if b.probing(now):
            # the one probe is out: no more traffic until it answers
            state, cooldown = CircuitState.OPEN, b.probe_until
        until = e.window.next_boundary(now) if stats.requests else math.inf
        for deadline in (b.cooldown_until, b.probe_until):
            if deadline > now:
                until = min(until, deadline)
        health = ProviderHealth(
            name=e.name, state=state, success_rate=stats.success_rate,
            consecutive_failures=e.consec, mean_latency_ms=stats.mean_latency_ms,
            requests=stats.requests, cooldown_until=cooldown, last_error=e.last_error,
            degraded=state is CircuitState.CLOSED and is_degraded(stats, self.thresholds),
        )
        return health, until

    # -- reporting ------------------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        """Every provider's breaker and window figures (the analytics/health payload)."""
        now = self.clock()
        out = []
        for e in self._entries.values():
            b = e.breaker
            state = b.state(now)
            stats = self.stats(e, now)
            out.append({
                "name": e.name,
                "state": state.value,
                "success_rate": round(stats.success_rate, 4),
                "consecutive_failures": e.consec,
                "mean_latency_ms": round(stats.mean_latency_ms, 1),
                "cooldown_until": _iso(b.cooldown_until) if state is CircuitState.OPEN else None,
                "last_error": e.last_error,
                "requests": stats.requests,
                "ejections": b.ejections,
                "probe_in_flight": b.probing(now),
                "degraded": state is CircuitState.CLOSED and is_degraded(stats, self.thresholds),
            })
        return out


def _iso(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.UTC).isoformat(timespec="milliseconds")
