"""The circuit breaker of RELIABILITY.md, driven through the tracker with an injected clock."""

from __future__ import annotations

import logging
import random

import pytest

from app.config.catalog import Catalog, HealthThresholds
from app.config.enums import CircuitState
from app.health.breaker import Breaker, cooldown_seconds, merge, rate_limit_seconds
from app.health.clock import ManualClock
from app.health.tracker import HealthTracker
from app.records import Outcome
from tests.health.factories import attempt, failure

P = "deepseek"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def tracker(catalog: Catalog, clock: ManualClock) -> HealthTracker:
    return HealthTracker(catalog, clock=clock, rng=random.Random(7))


def _state(tracker: HealthTracker, provider: str = P) -> CircuitState:
    return tracker.snapshot()[provider].state


def _cooldown_left(tracker: HealthTracker, clock: ManualClock, provider: str = P) -> float:
    until = tracker.snapshot()[provider].cooldown_until
    assert until is not None
    return until - clock()


def _open_it(tracker: HealthTracker) -> None:
    for _ in range(3):
        tracker.observe(failure(P))


def test_three_consecutive_failures_open_within_those_three(tracker: HealthTracker) -> None:
    tracker.observe(failure(P))
    tracker.observe(failure(P))
    assert _state(tracker) is CircuitState.CLOSED
    assert tracker.snapshot()[P].consecutive_failures == 2
    tracker.observe(failure(P))
    assert _state(tracker) is CircuitState.OPEN


def test_a_success_resets_the_consecutive_count(tracker: HealthTracker) -> None:
    for _ in range(5):
        tracker.observe(failure(P))
        tracker.observe(failure(P))
        tracker.observe(attempt(P))
    assert _state(tracker) is CircuitState.CLOSED
    assert tracker.snapshot()[P].consecutive_failures == 0


async def test_open_admits_nothing_until_the_cooldown_ends(tracker: HealthTracker,
                                                          clock: ManualClock) -> None:
    _open_it(tracker)
    left = _cooldown_left(tracker, clock)
    assert 30.0 <= left <= 33.0
    deadline = clock() + left
    while clock() < deadline:
        assert not await tracker.admit(P)
        assert _state(tracker) is CircuitState.OPEN
        clock.advance(min(1.0, deadline - clock()))
    assert _state(tracker) is CircuitState.HALF_OPEN


async def test_one_probe_in_flight_and_a_success_closes(tracker: HealthTracker,
                                                        clock: ManualClock) -> None:
    _open_it(tracker)
    clock.advance(_cooldown_left(tracker, clock))
    assert await tracker.admit(P)
    assert not await tracker.admit(P), "a second probe while the first is in flight"
    assert _state(tracker) is CircuitState.OPEN, "routing sees no capacity while probing"
    assert tracker.status()[list(tracker.providers).index(P)]["state"] == "half_open"
    tracker.observe(attempt(P))
    assert _state(tracker) is CircuitState.CLOSED
    assert await tracker.admit(P)


async def test_a_failed_probe_reopens_for_longer(tracker: HealthTracker, clock: ManualClock) -> None:
    _open_it(tracker)
    first = _cooldown_left(tracker, clock)
    clock.advance(first)
    assert await tracker.admit(P)
    tracker.observe(failure(P))
    second = _cooldown_left(tracker, clock)
    assert _state(tracker) is CircuitState.OPEN
    assert 60.0 <= second <= 66.0
    assert second > first


def test_cooldown_grows_per_ejection_and_caps(catalog: Catalog) -> None:
    th = catalog.health
    assert [cooldown_seconds(n, th, 0.0) for n in (1, 2, 3, 10, 50)] == [30, 60, 90, 300, 300]
    assert cooldown_seconds(1, th, 1.0) == pytest.approx(33.0)
    assert cooldown_seconds(20, th, 1.0) == pytest.approx(330.0)


async def test_the_ejection_count_resets_after_a_close(tracker: HealthTracker,
                                                       clock: ManualClock) -> None:
    _open_it(tracker)
    clock.advance(_cooldown_left(tracker, clock))
    assert await tracker.admit(P)
    tracker.observe(attempt(P))
    _open_it(tracker)
    assert 30.0 <= _cooldown_left(tracker, clock) <= 33.0


async def test_half_open_successes_are_configurable(catalog: Catalog, clock: ManualClock) -> None:
    health = catalog.health.model_copy(update={"half_open_successes": 3})
    tracker = HealthTracker(catalog.model_copy(update={"health": health}), clock=clock)
    _open_it(tracker)
    clock.advance(_cooldown_left(tracker, clock))
    for i in range(3):
        assert tracker.status()[tracker.providers.index(P)]["state"] == "half_open", i
        assert await tracker.admit(P)
        tracker.observe(attempt(P))
    assert _state(tracker) is CircuitState.CLOSED


def test_rate_limit_keeps_the_later_deadline(tracker: HealthTracker, clock: ManualClock) -> None:
    tracker.observe(attempt(P, Outcome.RATE_LIMITED, status=429), retry_after_s=60)
    tracker.observe(attempt(P, Outcome.RATE_LIMITED, status=429), retry_after_s=1)
    assert _cooldown_left(tracker, clock) == pytest.approx(60.0)
    clock.advance(59.5)
    assert _state(tracker) is CircuitState.OPEN
    clock.advance(0.5)
    assert _state(tracker) is CircuitState.CLOSED, "a rate limit ends without a probe"


def test_rate_limits_do_not_count_against_health(tracker: HealthTracker, clock: ManualClock) -> None:
    tracker.observe(failure(P))
    tracker.observe(failure(P))
    for _ in range(30):
        tracker.observe(attempt(P, Outcome.RATE_LIMITED, status=429))
        clock.advance(6)
    snap = tracker.snapshot()[P]
    assert snap.state is CircuitState.CLOSED
    assert snap.consecutive_failures == 2
    assert snap.last_error == "rate limited (HTTP 429)"


@pytest.mark.parametrize(("given", "expected"), [(None, 5.0), (0.2, 1.0), (1, 1.0), (30, 30.0),
                                                 (600, 60.0)])
def test_retry_after_is_clamped(given: float | None, expected: float) -> None:
    assert rate_limit_seconds(given) == expected


def test_rate_limit_never_shortens_an_ejection(tracker: HealthTracker, clock: ManualClock) -> None:
    _open_it(tracker)
    before = _cooldown_left(tracker, clock)
    tracker.observe(attempt(P, Outcome.RATE_LIMITED, status=429), retry_after_s=1)
    assert _cooldown_left(tracker, clock) == pytest.approx(before)


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_key_ejects_for_300_s_and_alerts(tracker: HealthTracker, clock: ManualClock,
                                                    caplog: pytest.LogCaptureFixture,
                                                    status: int) -> None:
    with caplog.at_level(logging.ERROR, logger="app.health.tracker"):
        tracker.observe(failure(P, status=status))
    assert _state(tracker) is CircuitState.OPEN
    assert _cooldown_left(tracker, clock) == pytest.approx(300.0)
    assert "misconfigured key" in (tracker.snapshot()[P].last_error or "")
    assert any("misconfigured key" in r.getMessage() and P in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("status", [400, 404, 413, 422])
def test_request_faults_do_not_count(tracker: HealthTracker, status: int) -> None:
    for _ in range(5):
        tracker.observe(failure(P, status=status))
    snap = tracker.snapshot()[P]
    assert (snap.state, snap.consecutive_failures, snap.requests) == (CircuitState.CLOSED, 0, 0)


def test_low_success_rate_over_enough_requests_opens(tracker: HealthTracker, clock: ManualClock) -> None:
    # 2 failures in every 10 never make 3 in a row, but 80 % < 90 % over >= 20 requests
    for i in range(19):
        tracker.observe(failure(P) if i % 5 == 4 else attempt(P))
        clock.advance(0.5)
    snap = tracker.snapshot()[P]
    assert snap.state is CircuitState.CLOSED and snap.degraded, "too few requests to eject"
    tracker.observe(failure(P))
    assert _state(tracker) is CircuitState.OPEN


def test_high_mean_latency_over_twenty_successes_opens(tracker: HealthTracker) -> None:
    for _ in range(19):
        tracker.observe(attempt(P, latency_ms=6000))
    assert tracker.snapshot()[P].degraded
    assert _state(tracker) is CircuitState.CLOSED
    tracker.observe(attempt(P, latency_ms=6000))
    assert _state(tracker) is CircuitState.OPEN


def test_old_failures_leave_the_window(tracker: HealthTracker, clock: ManualClock) -> None:
    for _ in range(5):
        tracker.observe(failure(P))
        tracker.observe(attempt(P))
    assert tracker.snapshot()[P].degraded
    clock.advance(61)
    snap = tracker.snapshot()[P]
    assert (snap.requests, snap.success_rate, snap.degraded) == (0, 1.0, False)


async def test_the_window_restarts_when_the_circuit_closes(tracker: HealthTracker,
                                                           clock: ManualClock) -> None:
    for _ in range(17):
        tracker.observe(attempt(P))
    _open_it(tracker)
    clock.advance(_cooldown_left(tracker, clock))
    assert await tracker.admit(P)
    tracker.observe(attempt(P))
    tracker.observe(failure(P))
    assert _state(tracker) is CircuitState.CLOSED, "the failures before the ejection are forgotten"


def test_merge_keeps_the_stricter_view() -> None:
    local = Breaker(epoch=3, ejections=2, cooldown_until=200.0)
    remote = Breaker(epoch=5, ejections=1, cooldown_until=100.0, reset_at=50.0)
    merged = merge(local, remote)
    assert (merged.ejections, merged.cooldown_until, merged.reset_at, merged.epoch) == (2, 200.0, 50.0, 5)


def test_thresholds_come_from_the_catalog(catalog: Catalog, clock: ManualClock) -> None:
    health = HealthThresholds(max_consecutive_failures=5)
    tracker = HealthTracker(catalog.model_copy(update={"health": health}), clock=clock)
    for _ in range(4):
        tracker.observe(failure(P))
    assert _state(tracker) is CircuitState.CLOSED
    tracker.observe(failure(P))
    assert _state(tracker) is CircuitState.OPEN
