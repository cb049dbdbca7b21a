"""What a request still owes once its answer is known: a success's health observation, the
records, the request's metrics and the budget settlement.

A failed attempt reaches health and the metrics as it ends, so concurrent requests learn at
once. The rest is `Bookkeeping` that the API runs right after handing the answer's bytes to the
server (app/api/answer.py): in the same task and, unless a budget hold must be settled, the
same turn of the event loop, so no other request runs before it and no record or count is
skipped, but the client no longer waits for it (about 60-100 us of /execute and
/v1/chat/completions at concurrency 1).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from app.execution.telemetry import count_attempt
from app.records import AttemptRecord, Outcome

if TYPE_CHECKING:
    from app.health.tracker import HealthTracker

Bookkeeping = Callable[[], Awaitable[None]]


class Observer:
    """The fallback loop's attempt observer: failures observed now, a success held for `flush`."""

    __slots__ = ("health", "held")

    def __init__(self, health: HealthTracker | None) -> None:
        self.health = health
        self.held: list[tuple[AttemptRecord, float | None]] = []

    def __call__(self, attempt: AttemptRecord, retry_after_s: float | None) -> None:
        if attempt.outcome is Outcome.SUCCESS:
            self.held.append((attempt, retry_after_s))
        else:
            self.observe(attempt, retry_after_s)

    def observe(self, attempt: AttemptRecord, retry_after_s: float | None) -> None:
        """Count the attempt and feed it to the health tracker (a skipped one is only counted)."""
        count_attempt(attempt)
        if self.health is not None and attempt.outcome is not Outcome.SKIPPED:
            self.health.observe(attempt, retry_after_s=retry_after_s)

    def flush(self) -> None:
        """Observe what was held (the success), once."""
        held, self.held = self.held, []
        for attempt, retry_after_s in held:
            self.observe(attempt, retry_after_s)
