"""The idle limit between a provider's stream chunks, on one timer a stream instead of one a chunk.

`asyncio.timeout(idle_s)` around every wait for the next chunk starts and stops an event-loop
timer each time (under uvloop a libuv timer): about 5 % of a relayed stream's CPU here. This keeps
asyncio's own Timeout for the cancellation (each wait runs inside `asyncio.timeout(None)`, which
needs no timer) and one watchdog timer a stream, which cuts a wait that has lasted `idle_s` and
otherwise re-arms for the current wait's deadline. Only time spent waiting counts: a stream held
back by a slow client is not idle.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class IdleTimeout:
    """`async with idle:` around each wait raises TimeoutError once that wait reaches `idle_s`."""

    def __init__(self, idle_s: float) -> None:
        self.idle_s = idle_s
        self._loop = asyncio.get_running_loop()
        self._wait: asyncio.Timeout | None = None
        self._since = 0.0
        self._timer: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> None:
        wait = asyncio.timeout(None)
        await wait.__aenter__()
        self._wait, self._since = wait, self._loop.time()
        if self._timer is None:
            self._timer = self._loop.call_at(self._since + self.idle_s, self._check)

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        wait, self._wait = self._wait, None
        assert wait is not None
        await wait.__aexit__(exc_type, exc, tb)  # raises TimeoutError for a wait it cut

    def _check(self) -> None:
        self._timer = None
        if self._wait is None:  # between waits: the next one arms the timer again
            return
        due = self._since + self.idle_s
        now = self._loop.time()
        if now >= due:
            self._wait.reschedule(now)  # asyncio cancels the wait and raises TimeoutError from it
        else:
            self._timer = self._loop.call_at(due, self._check)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
