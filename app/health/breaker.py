"""The circuit breaker of one provider as pure transitions over an immutable state.

The state holds absolute deadlines (epoch seconds), so the phase is derived from the clock:
OPEN while a cooldown runs, HALF_OPEN once it has passed after an ejection, CLOSED otherwise.
Every transition is a pure function `Breaker -> Breaker` that returns its input unchanged when
it does not apply, so a replica can re-apply it to the shared state after a conflict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from app.config.catalog import HealthThresholds
from app.config.enums import CircuitState

RATE_LIMIT_DEFAULT_S = 5.0
RATE_LIMIT_MIN_S = 1.0
RATE_LIMIT_MAX_S = 60.0


@dataclass(frozen=True, slots=True)
class Breaker:
    """One provider's breaker: `epoch` counts the shared state's versions (compare-and-set)."""

    epoch: int = 0
    ejections: int = 0           # consecutive ejections; back to 0 when the circuit closes
    cooldown_until: float = 0.0  # no traffic before this instant (ejection or rate limit)
    probe_until: float = 0.0     # a half-open probe is in flight until this instant
    half_open_ok: int = 0        # successful probes since the cooldown ended
    reset_at: float = 0.0        # the window counts only attempts since the last close

    def state(self, now: float) -> CircuitState:
        """The phase at `now`."""
        if now < self.cooldown_until:
            return CircuitState.OPEN
        if self.ejections > 0:
            return CircuitState.HALF_OPEN
        return CircuitState.CLOSED

    def probing(self, now: float) -> bool:
        """Whether a half-open probe is in flight."""
        return self.ejections > 0 and self.cooldown_until <= now < self.probe_until


Transition = Callable[[Breaker], Breaker]


def cooldown_seconds(ejection: int, thresholds: HealthThresholds, jitter_unit: float) -> float:
    """30 s x the n-th consecutive ejection, capped at 300 s, plus 0-10 % jitter."""
    base = min(thresholds.cooldown_base_s * ejection, thresholds.cooldown_max_s)
    return base * (1.0 + thresholds.cooldown_jitter * jitter_unit)


def trip(now: float, thresholds: HealthThresholds, jitter_unit: float) -> Transition:
    """Eject the provider for the next cooldown step (a no-op while it is already ejected)."""

    def apply(b: Breaker) -> Breaker:
        if b.ejections > 0 and now < b.cooldown_until:
            return b
        n = b.ejections + 1
        deadline = now + cooldown_seconds(n, thresholds, jitter_unit)
        return replace(b, ejections=n, cooldown_until=max(b.cooldown_until, deadline),
                       probe_until=0.0, half_open_ok=0)

    return apply


def eject_bad_key(now: float, thresholds: HealthThresholds) -> Transition:
    """A rejected key: eject for `bad_key_eject_s`, whatever the cooldown step."""

    def apply(b: Breaker) -> Breaker:
        deadline = max(b.cooldown_until, now + thresholds.bad_key_eject_s)
        ejected = b.ejections > 0 and now < b.cooldown_until
        if ejected and deadline == b.cooldown_until:
            return b
        return replace(b, ejections=b.ejections if ejected else b.ejections + 1,
                       cooldown_until=deadline, probe_until=0.0, half_open_ok=0)

    return apply


def rate_limit_seconds(retry_after_s: float | None) -> float:
    """Retry-After clamped to 1-60 s, or 5 s when the provider gave none."""
    if retry_after_s is None:
        return RATE_LIMIT_DEFAULT_S
    return min(max(retry_after_s, RATE_LIMIT_MIN_S), RATE_LIMIT_MAX_S)


def rate_limited(now: float, retry_after_s: float | None) -> Transition:
    """A 429: hold traffic until the deadline; never shortens one already set."""

    def apply(b: Breaker) -> Breaker:
        deadline = max(b.cooldown_until, now + rate_limit_seconds(retry_after_s))
        if deadline == b.cooldown_until and b.probe_until <= now:
            return b
        return replace(b, cooldown_until=deadline, probe_until=0.0)

    return apply


def take_probe(now: float, ttl_s: float) -> Transition:
    """Reserve the one half-open probe; unchanged when not half-open or already probing."""

    def apply(b: Breaker) -> Breaker:
        if b.state(now) is not CircuitState.HALF_OPEN or b.probing(now):
            return b
        return replace(b, probe_until=now + ttl_s)

    return apply


def probe_succeeded(now: float, thresholds: HealthThresholds) -> Transition:
    """A half-open success: close after `half_open_successes` of them."""

    def apply(b: Breaker) -> Breaker:
        if b.state(now) is not CircuitState.HALF_OPEN:
            return b
        ok = b.half_open_ok + 1
        if ok >= thresholds.half_open_successes:
            return replace(b, ejections=0, half_open_ok=0, probe_until=0.0, reset_at=now)
        return replace(b, half_open_ok=ok, probe_until=0.0)

    return apply


def release_probe(now: float) -> Transition:
    """Free the probe slot without a verdict (the probe said nothing about health)."""

    def apply(b: Breaker) -> Breaker:
        return replace(b, probe_until=0.0) if b.probing(now) else b

    return apply


def merge(local: Breaker, remote: Breaker) -> Breaker:
    """Reconcile two views after a partition: keep the stricter of each deadline and count."""
    stricter = local if local.cooldown_until >= remote.cooldown_until else remote
    return Breaker(
        epoch=max(local.epoch, remote.epoch),
        ejections=max(local.ejections, remote.ejections),
        cooldown_until=stricter.cooldown_until,
        probe_until=max(local.probe_until, remote.probe_until),
        half_open_ok=min(local.half_open_ok, remote.half_open_ok),
        reset_at=max(local.reset_at, remote.reset_at),
    )
