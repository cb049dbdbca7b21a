"""The sliding window of passive signals: per-bucket success, failure and latency counts.

Buckets are `window / 20` wide, keyed by their index since the epoch, so every replica
buckets the same instant the same way and Redis can hold them as plain hash fields.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from app.config.catalog import HealthThresholds

BUCKETS_PER_WINDOW = 20


class WindowStats:
    """Counts over the window (since the last close), with the rates derived once."""

    __slots__ = ("failures", "latency_ms_sum", "mean_latency_ms", "requests", "success_rate", "successes")

    def __init__(self, successes: int = 0, failures: int = 0, latency_ms_sum: float = 0.0) -> None:
        self.successes = successes
        self.failures = failures
        self.latency_ms_sum = latency_ms_sum
        self.requests = successes + failures
        self.success_rate = successes / self.requests if self.requests else 1.0
        self.mean_latency_ms = latency_ms_sum / successes if successes else 0.0


class Buckets:
    """One provider's window: bucket index -> [successes, failures, latency ms sum]."""

    __slots__ = ("_memo", "data", "width")

    def __init__(self, window_s: float) -> None:
        self.width = window_s / BUCKETS_PER_WINDOW
        self.data: dict[int, list[float]] = {}
        self._memo: tuple[int, WindowStats] | None = None  # the last totals and their lower bucket

    def index(self, t: float) -> int:
        return int(t // self.width)

    def add(self, now: float, ok: bool, latency_ms: float) -> None:
        """Count one attempt at `now`."""
        self._memo = None
        cell = self.data.setdefault(self.index(now), [0.0, 0.0, 0.0])
        if ok:
            cell[0] += 1
            cell[2] += latency_ms
        else:
            cell[1] += 1

    def stats(self, now: float, window_s: float, since: float = 0.0) -> WindowStats:
        """Totals of the buckets inside the window and not before `since`."""
        lo = max(self.index(now - window_s) + 1, self.index(since))
        memo = self._memo
        if memo is not None and memo[0] == lo:
            return memo[1]  # the request path asks twice per attempt (trip check, snapshot)
        ok = fail = lat = 0.0
        for idx, cell in self.data.items():
            if idx >= lo:
                ok += cell[0]
                fail += cell[1]
                lat += cell[2]
        stats = WindowStats(int(ok), int(fail), lat)
        self._memo = (lo, stats)
        return stats

    def prune(self, now: float, window_s: float) -> None:
        """Forget buckets that have left the window."""
        lo = self.index(now - window_s) + 1
        for idx in [i for i in self.data if i < lo]:
            del self.data[idx]
        self._memo = None

    def next_boundary(self, now: float) -> float:
        """When the current bucket ends (the earliest instant the stats can age)."""
        return (math.floor(now / self.width) + 1) * self.width

    def replace(self, data: Mapping[int, list[float]]) -> None:
        """Take the shared totals (Redis) in place of the local counts."""
        self.data = {k: list(v) for k, v in data.items()}
        self._memo = None


def should_trip(consecutive_failures: int, stats: WindowStats, th: HealthThresholds) -> bool:
    """RELIABILITY.md: 3 consecutive failures, or a bad success rate or latency over enough traffic."""
    if consecutive_failures >= th.max_consecutive_failures:
        return True
    if stats.requests >= th.min_requests and stats.success_rate < th.min_success_rate:
        return True
    return stats.successes >= th.min_requests and stats.mean_latency_ms > th.max_mean_latency_ms


def is_degraded(stats: WindowStats, th: HealthThresholds) -> bool:
    """Past a threshold on too little traffic to eject: routed after the healthy ones."""
    if stats.requests and stats.success_rate < th.min_success_rate:
        return True
    return bool(stats.successes) and stats.mean_latency_ms > th.max_mean_latency_ms


def parse_fields(fields: Iterable[tuple[str, str]]) -> dict[int, list[float]]:
    """Redis hash fields `<bucket>:ok|f|lat` -> buckets."""
    slot = {"ok": 0, "f": 1, "lat": 2}
    out: dict[int, list[float]] = {}
    for key, value in fields:
        idx, _, kind = key.partition(":")
        if kind in slot and idx.lstrip("-").isdigit():
            out.setdefault(int(idx), [0.0, 0.0, 0.0])[slot[kind]] = float(value)
    return out
