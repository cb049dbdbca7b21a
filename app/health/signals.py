"""What an attempt tells the health tracker, per RELIABILITY.md's failure classes."""

from __future__ import annotations

from enum import Enum

from app.records import AttemptRecord, Outcome

BAD_KEY_STATUSES = frozenset({401, 403})
# The request's own fault: the provider answered, so its health is not in question.
REQUEST_FAULT_STATUSES = frozenset({400, 404, 413, 422})


class Signal(Enum):
    """The health meaning of one attempt."""

    SUCCESS = "success"
    FAILURE = "failure"
    RATE_LIMITED = "rate_limited"
    BAD_KEY = "bad_key"
    NEUTRAL = "neutral"


def classify(attempt: AttemptRecord) -> Signal:
    """Map an attempt's outcome and status code to its health signal."""
    outcome, status = attempt.outcome, attempt.status_code
    if outcome is Outcome.SUCCESS:
        return Signal.SUCCESS
    if outcome is Outcome.SKIPPED:
        return Signal.NEUTRAL
    if outcome is Outcome.RATE_LIMITED or status == 429:
        return Signal.RATE_LIMITED
    if status in BAD_KEY_STATUSES:
        return Signal.BAD_KEY
    if status in REQUEST_FAULT_STATUSES:
        return Signal.NEUTRAL
    return Signal.FAILURE


def describe_error(attempt: AttemptRecord) -> str:
    """A short, secret-free description of a failed attempt for `last_error`."""
    parts = [attempt.error_class or attempt.outcome.value]
    if attempt.status_code is not None:
        parts.append(f"HTTP {attempt.status_code}")
    return " ".join(parts)[:200]
