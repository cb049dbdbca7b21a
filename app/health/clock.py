"""Wall-clock time as an injectable dependency: cooldown deadlines are shared absolute timestamps."""

from __future__ import annotations

import time
from collections.abc import Callable

# Epoch seconds, not monotonic time: deadlines are compared across processes and hosts.
Clock = Callable[[], float]


def system_clock() -> float:
    """The current time in epoch seconds."""
    return time.time()


class ManualClock:
    """A clock that only moves when told to (tests, simulations)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move the clock forward and return the new time."""
        self.now += seconds
        return self.now
