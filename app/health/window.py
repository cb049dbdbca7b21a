"""The sliding window of passive signals: per-bucket success, failure and latency counts.

Buckets are `window / 20` wide, keyed by their index since the epoch, so every replica
buckets the same instant the same way and Redis can hold them as plain hash fields.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.config.catalog import HealthThresholds

BUCKETS_PER_WINDOW = 20


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Counts over the window (since the last close)."""

    successes: int = 0
    failures: int = 0
    latency_ms_sum: float = 0.0

    @property
    def requests(self) -> int:
        return self.successes + self.failures

    @property
    def success_rate(self) -> float:
        return self.successes / self.requests if self.requests else 1.0

    @property
    def mean_latency_ms(self) -> float:
        return self.latency_ms_sum / self.successes if self.successes else 0.0


class Buckets:
    """One provider's window: bucket index -> [successes, failures, latency ms sum]."""

    __slots__ = ("data", "width")

    def __init__(self, window_s: float) -> None:
        self.width = window_s / BUCKETS_PER_WINDOW
        self.data: dict[int, list[float]] = {}

    def index(self, t: float) -> int:
        return int(t // self.width)

    def add(self, now: float, ok: bool, latency_ms: float) -> None:
        """Count one attempt at `now`."""
        cell = self.data.setdefault(self.index(now), [0.0, 0.0, 0.0])
        if ok:
            cell[0] += 1
            cell[2] += latency_ms
        else:
            cell[1] += 1

    def stats(self, now: float, window_s: float, since: float = 0.0) -> WindowStats:
        """Totals of the buckets inside the window and not before `since`."""
        lo = max(self.index(now - window_s) + 1, self.index(since))
        ok = fail = lat = 0.0
        for idx, cell in self.data.items():
            if idx >= lo:
                ok += cell[0]
                fail += cell[1]
                lat += cell[2]
        return WindowStats(int(ok), int(fail), lat)

    def prune(self, now: float, window_s: float) -> None:
        """Forget buckets that have left the window."""
        lo = self.index(now - window_s) + 1
        for idx in [i for i in self.data if i < lo]:
            del self.data[idx]

    def next_boundary(self, now: float) -> float:
        """When the current bucket ends (the earliest instant the stats can age)."""
        return (math.floor(now / self.width) + 1) * self.width

    def replace(self, data: Mapping[int, list[float]]) -> None:
        """Take the shared totals (Redis) in place of the local counts."""
        self.data = {k: list(v) for k, v in data.items()}


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
