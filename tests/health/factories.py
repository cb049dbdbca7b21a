"""Attempt records for the health tests (built the way the executor builds them)."""

from __future__ import annotations

from itertools import count

from app.records import AttemptRecord, Outcome

_ids = count(1)


def attempt(provider: str, outcome: Outcome = Outcome.SUCCESS, *, status: int | None = None,
            latency_ms: float = 100.0, error_class: str | None = None) -> AttemptRecord:
    """One attempt at `provider` with the given outcome."""
    n = next(_ids)
    if outcome is not Outcome.SUCCESS and error_class is None:
        error_class = "ProviderError"
    return AttemptRecord(
        id=f"a{n}", decision_id=f"d{n}", attempt_order=0, provider=provider, model="m",
        outcome=outcome, task_type="chat", latency_ms=latency_ms, error_class=error_class,
        status_code=status,
    )


def failure(provider: str, status: int | None = 500) -> AttemptRecord:
    return attempt(provider, Outcome.ERROR, status=status)
