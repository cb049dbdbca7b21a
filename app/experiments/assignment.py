"""Which arm of an experiment a request falls in: a stable hash of the unit, not a coin toss."""

from __future__ import annotations

import hashlib

from app.config.catalog import Experiment, ExperimentVariant


def bucket(experiment: str, unit: str) -> float:
    """A point in [0, 100) from SHA-256 of "experiment:unit" (same inputs, same point, any process)."""
    digest = hashlib.sha256(f"{experiment}:{unit}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def assign(experiment: Experiment, unit: str) -> ExperimentVariant:
    """The variant whose cumulative share holds the unit's bucket (weights add up to 100)."""
    point = bucket(experiment.name, unit)
    upto = 0.0
    for variant in experiment.variants:
        upto += variant.weight
        if point < upto:
            return variant
    # rounding at the top end: the last arm with any share
    return next(v for v in reversed(experiment.variants) if v.weight > 0)


def unit_of(experiment: Experiment, *, tenant: str | None, request_id: str) -> str:
    """The value split on: the tenant, or the request id when split by request or anonymous."""
    if experiment.unit == "tenant" and tenant:
        return f"tenant:{tenant}"
    return f"request:{request_id}"


def label(experiment: Experiment, variant: ExperimentVariant) -> str:
    """What `decisions.variant` stores: "experiment/variant"."""
    return f"{experiment.name}/{variant.name}"
