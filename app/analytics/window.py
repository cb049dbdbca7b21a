"""Time windows, and how a window is covered by raw rows, hourly and daily roll-ups.

A window [start, end) is read from the coarsest data that is exact for it: whole days from the
daily roll-up, whole hours from the hourly one, and the ragged edges (less than an hour at each
end) from the raw tables. Sums over the pieces equal sums over the raw rows, to the last digit.
Windows of at most RAW_MAX_HOURS are read from the raw rows alone (exact percentiles).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

MIN_WINDOW_HOURS = 1
MAX_WINDOW_HOURS = 2160  # 90 days
RAW_MAX_HOURS = 6

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)

Source = Literal["raw", "hourly", "daily"]


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open UTC interval [start, end)."""

    start: dt.datetime
    end: dt.datetime

    @classmethod
    def last(cls, hours: float, *, now: dt.datetime | None = None) -> Window:
        """The `hours` before `now` (default: the current time)."""
        end = now or dt.datetime.now(dt.UTC)
        return cls(end - dt.timedelta(hours=hours), end)

    @property
    def hours(self) -> float:
        return (self.end - self.start) / HOUR

    @property
    def raw_only(self) -> bool:
        return self.hours <= RAW_MAX_HOURS


@dataclass(frozen=True, slots=True)
class Piece:
    """A part of a window read from one source."""

    source: Source
    start: dt.datetime
    end: dt.datetime


def floor_to(ts: dt.datetime, step: dt.timedelta) -> dt.datetime:
    """`ts` rounded down to a multiple of `step` since the epoch (UTC)."""
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return epoch + ((ts - epoch) // step) * step


def ceil_to(ts: dt.datetime, step: dt.timedelta) -> dt.datetime:
    floor = floor_to(ts, step)
    return floor if floor == ts else floor + step


def cover(window: Window, *, coarsest: Source = "daily") -> list[Piece]:
    """The pieces whose union is the window, from the coarsest source the boundaries allow."""
    start, end = window.start, window.end
    if window.raw_only:
        return [Piece("raw", start, end)]
    h0, h1 = ceil_to(start, HOUR), floor_to(end, HOUR)
    if h0 >= h1:
        return [Piece("raw", start, end)]
    pieces: list[Piece] = []
    if start < h0:
        pieces.append(Piece("raw", start, h0))
    d0, d1 = ceil_to(h0, DAY), floor_to(h1, DAY)
    if coarsest == "daily" and d0 < d1:
        if h0 < d0:
            pieces.append(Piece("hourly", h0, d0))
        pieces.append(Piece("daily", d0, d1))
        if d1 < h1:
            pieces.append(Piece("hourly", d1, h1))
    else:
        pieces.append(Piece("hourly", h0, h1))
    if h1 < end:
        pieces.append(Piece("raw", h1, end))
    return pieces
