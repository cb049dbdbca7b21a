"""Health figures into the Prometheus gauges of app/metrics.py."""

from __future__ import annotations

from app.config.enums import CircuitState
from app.health.tracker import HealthTracker
from app.health.window import is_degraded
from app.metrics import CIRCUIT_STATE, PROVIDER_HEALTH, PROVIDER_SUCCESS_RATE

CIRCUIT_VALUE = {CircuitState.CLOSED: 0, CircuitState.HALF_OPEN: 1, CircuitState.OPEN: 2}


def export_provider(tracker: HealthTracker, provider: str) -> None:
    """Set one provider's circuit state (0/1/2), health (1/0.5/0) and success rate."""
    e = tracker.entry(provider)
    now = tracker.clock()
    state = e.breaker.state(now)
    stats = tracker.stats(e, now)
    if state is CircuitState.OPEN:
        health = 0.0
    elif state is CircuitState.HALF_OPEN or is_degraded(stats, tracker.thresholds):
        health = 0.5
    else:
        health = 1.0
    CIRCUIT_STATE.labels(provider).set(CIRCUIT_VALUE[state])
    PROVIDER_HEALTH.labels(provider).set(health)
    PROVIDER_SUCCESS_RATE.labels(provider).set(stats.success_rate)


def export_all(tracker: HealthTracker) -> None:
    for provider in tracker.providers:
        export_provider(tracker, provider)
