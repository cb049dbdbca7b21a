"""Budgets in the store: reserve-then-settle is atomic under concurrency, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.errors import BudgetExceeded
from app.tenancy.budgets import Budgets, day_reset, month_reset
from app.tenancy.tables import BudgetReservation
from tests.tenancy.conftest import MakeTenant, Sessions

COST = Decimal("0.0123456789")


class Clock:
    """A settable UTC clock for expiry and period boundaries."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


def budgets_of(sessions: Sessions, clock: Clock | None = None, grace_s: float = 60.0) -> Budgets:
    if clock is None:
        return Budgets(sessions, grace_s=grace_s)
    return Budgets(sessions, grace_s=grace_s, clock=clock)


async def test_fifty_concurrent_reservations_against_room_for_ten(sessions: Sessions,
                                                                 make_tenant: MakeTenant) -> None:
    tenant = await make_tenant("acme", daily_hard_limit_usd=COST * 10)
    budgets = budgets_of(sessions)

    async def one() -> bool:
        try:
            hold = await budgets.reserve(tenant, COST, deadline_s=60)
        except BudgetExceeded:
            return False
        await asyncio.sleep(0.05)  # the call in flight: nothing is settled while the others reserve
        await budgets.settle(hold, COST)
        return True

    results = await asyncio.gather(*(one() for _ in range(50)))
    status = (await budgets.status(tenant))["daily"]
    assert status.spent_usd <= COST * 10
    assert status.reserved_usd == 0
    # At least ten fit; more only when earlier calls had settled (their room is gone by then).
    assert sum(results) == 10
    assert status.spent_usd == COST * sum(results)


async def test_a_refused_hold_reports_limit_spend_and_reset(sessions: Sessions,
                                                            make_tenant: MakeTenant) -> None:
    clock = Clock(dt.datetime(2025, 12, 31, 22, 30, tzinfo=dt.UTC))
    tenant = await make_tenant("acme", daily_hard_limit_usd=Decimal("1.00"),
                               monthly_hard_limit_usd=Decimal(50))
    budgets = budgets_of(sessions, clock)
    hold = await budgets.reserve(tenant, Decimal("0.70"), deadline_s=60)
    await budgets.settle(hold, Decimal("0.60"))
    with pytest.raises(BudgetExceeded) as refused:
        await budgets.reserve(tenant, Decimal("0.50"), deadline_s=60)
    error = refused.value
    assert error.status_code == 402 and error.code == "budget_exceeded"
    assert error.details == {
        "tenant": "acme", "period": "daily", "limit_usd": 1.0, "spent_usd": 0.6, "reserved_usd": 0.0,
        "requested_usd": 0.5, "resets_at": "2026-01-01T00:00:00Z",
    }
    # 0.40 still fits exactly.
    await budgets.reserve(tenant, Decimal("0.40"), deadline_s=60)


async def test_the_monthly_limit_binds_across_days(sessions: Sessions, make_tenant: MakeTenant) -> None:
    clock = Clock(dt.datetime(2025, 11, 3, 12, tzinfo=dt.UTC))
    tenant = await make_tenant("acme", daily_hard_limit_usd=Decimal(2), monthly_hard_limit_usd=Decimal(3))
    budgets = budgets_of(sessions, clock)
    await budgets.settle(await budgets.reserve(tenant, Decimal("1.5"), deadline_s=60), Decimal("1.5"))
    clock.at += dt.timedelta(days=1)
    await budgets.settle(await budgets.reserve(tenant, Decimal("1.5"), deadline_s=60), Decimal("1.5"))
    clock.at += dt.timedelta(days=1)
    with pytest.raises(BudgetExceeded) as refused:
        await budgets.reserve(tenant, Decimal("0.01"), deadline_s=60)
    assert refused.value.details["period"] == "monthly"
    assert refused.value.details["resets_at"] == "2025-12-01T00:00:00Z"
    # A refused hold leaves nothing behind: the day's counters are untouched.
    daily = (await budgets.status(tenant))["daily"]
    assert daily.spent_usd == 0 and daily.reserved_usd == 0


async def test_an_unsettled_hold_expires_and_stops_counting(sessions: Sessions,
                                                            make_tenant: MakeTenant) -> None:
    clock = Clock(dt.datetime(2025, 11, 3, 12, tzinfo=dt.UTC))
    tenant = await make_tenant("acme", daily_hard_limit_usd=Decimal(1))
    budgets = budgets_of(sessions, clock, grace_s=30)
    abandoned = await budgets.reserve(tenant, Decimal("0.8"), deadline_s=60)
    with pytest.raises(BudgetExceeded):
        await budgets.reserve(tenant, Decimal("0.5"), deadline_s=60)
    clock.at += dt.timedelta(seconds=89)
    assert await budgets.sweep() == 0
    clock.at += dt.timedelta(seconds=2)
    assert await budgets.sweep() == 1
    assert (await budgets.status(tenant))["daily"].reserved_usd == 0
    await budgets.reserve(tenant, Decimal("0.5"), deadline_s=60)
    # The process that held it comes back late: the real cost still counts, the hold is not released twice.
    await budgets.settle(abandoned, Decimal("0.3"))
    status = (await budgets.status(tenant))["daily"]
    assert (status.spent_usd, status.reserved_usd) == (Decimal("0.3"), Decimal("0.5"))
    async with sessions() as session:
        states = sorted(await session.scalars(sa.select(BudgetReservation.state)))
    assert states == ["held", "settled"]


async def test_settling_twice_counts_once(sessions: Sessions, make_tenant: MakeTenant) -> None:
    tenant = await make_tenant("acme", daily_hard_limit_usd=Decimal(1))
    budgets = budgets_of(sessions)
    hold = await budgets.reserve(tenant, Decimal("0.2"), deadline_s=60)
    await asyncio.gather(budgets.settle(hold, Decimal("0.1")), budgets.settle(hold, Decimal("0.1")))
    status = (await budgets.status(tenant))["daily"]
    assert (status.spent_usd, status.reserved_usd) == (Decimal("0.1"), Decimal(0))


async def test_soft_limit_alerts_once_per_period(sessions: Sessions, make_tenant: MakeTenant,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock(dt.datetime(2025, 11, 3, 12, tzinfo=dt.UTC))
    tenant = await make_tenant("acme", daily_soft_limit_usd=Decimal("0.25"))
    budgets = budgets_of(sessions, clock)
    caplog.set_level(logging.WARNING, logger="app.tenancy.budgets")
    for _ in range(4):  # 0.1, 0.2 (under), 0.3 (alert), 0.4 (already alerted)
        await budgets.settle(await budgets.reserve(tenant, Decimal("0.1"), deadline_s=60), Decimal("0.1"))
    alerts = [r.getMessage() for r in caplog.records if "soft budget" in r.getMessage()]
    assert alerts == ["tenant acme passed its daily soft budget: spent 0.3 USD of 0.25 USD"]
    clock.at += dt.timedelta(days=1)
    await budgets.settle(await budgets.reserve(tenant, Decimal("0.3"), deadline_s=60), Decimal("0.3"))
    assert sum("soft budget" in r.getMessage() for r in caplog.records) == 2


def test_period_resets() -> None:
    utc = dt.UTC
    assert day_reset(dt.datetime(2025, 2, 28, 23, 59, tzinfo=utc)) == dt.datetime(2025, 3, 1, tzinfo=utc)
    assert month_reset(dt.datetime(2025, 12, 31, tzinfo=dt.UTC)) == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert month_reset(dt.datetime(2025, 1, 1, tzinfo=dt.UTC)) == dt.datetime(2025, 2, 1, tzinfo=dt.UTC)
