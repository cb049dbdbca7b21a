"""Budget queries: each change is one conditional UPDATE … RETURNING, atomic on SQLite and PostgreSQL.

A hold adds to `reserved_usd` only WHERE spent + reserved + amount stays within the hard limit;
PostgreSQL locks the row for the UPDATE, SQLite takes its write lock with the first statement
(an INSERT), so concurrent requests are serialised by the database and cannot overspend together.
Repositories flush, never commit: the caller's session scope commits or rolls back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.store.repositories import insert_ignoring_duplicates
from app.store.types import Money
from app.tenancy.tables import BudgetReservation, BudgetUsage

USAGE: sa.Table = BudgetUsage.__table__  # type: ignore[assignment]
RESERVATIONS: sa.Table = BudgetReservation.__table__  # type: ignore[assignment]

HELD, SETTLED, EXPIRED = "held", "settled", "expired"


def money(value: Decimal) -> sa.BindParameter[Decimal]:
    """A bound USD amount stored like the columns (a scaled integer on SQLite)."""
    return sa.literal(value, Money())


@dataclass(frozen=True, slots=True)
class PeriodUsage:
    spent_usd: Decimal
    reserved_usd: Decimal


@dataclass(frozen=True, slots=True)
class Released:
    """A reservation taken out of the counters (settled or expired)."""

    id: str
    tenant_id: str
    amount_usd: Decimal
    day_period: str
    month_period: str


async def ensure_periods(session: AsyncSession, tenant_id: str, periods: tuple[str, ...],
                         now: dt.datetime) -> None:
    """Create the period rows if missing (as the first write, it also takes SQLite's write lock)."""
    stmt = insert_ignoring_duplicates(session.get_bind().dialect.name, USAGE)
    await session.execute(stmt, [
        {"tenant_id": tenant_id, "period": p, "spent_usd": Decimal(0), "reserved_usd": Decimal(0),
         "updated_at": now} for p in periods
    ])


async def hold(session: AsyncSession, tenant_id: str, period: str, amount: Decimal,
               limit: Decimal | None, now: dt.datetime) -> bool:
    """Add `amount` to the period's reservations if it stays within `limit`; False if it would not."""
    c = USAGE.c
    stmt = (
        sa.update(USAGE)
        .where(c.tenant_id == tenant_id, c.period == period)
        .values(reserved_usd=c.reserved_usd + money(amount), updated_at=now)
        .returning(c.period)
    )
    if limit is not None:
        stmt = stmt.where(c.spent_usd + c.reserved_usd + money(amount) <= money(limit))
    return (await session.execute(stmt)).first() is not None


async def add_reservation(session: AsyncSession, row: dict[str, object]) -> None:
    await session.execute(sa.insert(RESERVATIONS), [row])


async def release(session: AsyncSession, reservation_id: str, *, to_state: str, from_state: str,
                  actual: Decimal | None, now: dt.datetime) -> Released | None:
    """Move one reservation from `from_state` to `to_state` (compare-and-set); None if it was not there."""
    c = RESERVATIONS.c
    stmt = (
        sa.update(RESERVATIONS)
        .where(c.id == reservation_id, c.state == from_state)
        .values(state=to_state, actual_usd=actual, settled_at=now)
        .returning(c.id, c.tenant_id, c.amount_usd, c.day_period, c.month_period)
    )
    row = (await session.execute(stmt)).first()
    return None if row is None else Released(*row)


async def expire_due(session: AsyncSession, now: dt.datetime, limit: int = 1000) -> list[Released]:
    """Mark held reservations past their expiry as expired and return them (to un-reserve)."""
    c = RESERVATIONS.c
    due = sa.select(c.id).where(c.state == HELD, c.expires_at < now).limit(limit).scalar_subquery()
    stmt = (
        sa.update(RESERVATIONS)
        .where(c.id.in_(due), c.state == HELD)
        .values(state=EXPIRED, settled_at=now)
        .returning(c.id, c.tenant_id, c.amount_usd, c.day_period, c.month_period)
    )
    return [Released(*row) for row in (await session.execute(stmt)).all()]


async def apply(session: AsyncSession, tenant_id: str, period: str, *, unreserve: Decimal,
                spend: Decimal, now: dt.datetime) -> None:
    """Take `unreserve` off the reservations and add `spend` to the spend of one period."""
    c = USAGE.c
    await session.execute(
        sa.update(USAGE)
        .where(c.tenant_id == tenant_id, c.period == period)
        .values(reserved_usd=c.reserved_usd - money(unreserve), spent_usd=c.spent_usd + money(spend),
                updated_at=now)
    )


async def mark_soft_alert(session: AsyncSession, tenant_id: str, period: str, soft: Decimal,
                          now: dt.datetime) -> Decimal | None:
    """Flag the period's soft limit as passed, once across replicas; the spend if this call flagged it."""
    c = USAGE.c
    stmt = (
        sa.update(USAGE)
        .where(c.tenant_id == tenant_id, c.period == period, c.soft_alerted_at.is_(None),
               c.spent_usd >= money(soft))
        .values(soft_alerted_at=now)
        .returning(c.spent_usd)
    )
    row = (await session.execute(stmt)).first()
    return None if row is None else Decimal(row[0])


async def usage(session: AsyncSession, tenant_id: str, periods: tuple[str, ...]) -> dict[str, PeriodUsage]:
    """Spent and reserved per period (periods without a row are absent)."""
    c = USAGE.c
    rows = await session.execute(
        sa.select(c.period, c.spent_usd, c.reserved_usd)
        .where(c.tenant_id == tenant_id, c.period.in_(periods))
    )
    return {p: PeriodUsage(Decimal(s), Decimal(r)) for p, s, r in rows.all()}


async def prune(session: AsyncSession, before: dt.datetime) -> int:
    """Delete reservations closed before `before` (the counters keep their totals)."""
    c = RESERVATIONS.c
    result = await session.execute(
        sa.delete(RESERVATIONS).where(c.state != HELD, c.created_at < before)
    )
    return int(getattr(result, "rowcount", 0) or 0)
