"""Provider health: passive signals and circuit breakers, shared state, probes, alerts, export."""

from app.health.tracker import HealthTracker

__all__ = ["HealthTracker"]
