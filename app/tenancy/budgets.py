"""Per-tenant budgets: hold the estimated cost before a call, settle the real cost after.

Hard limits refuse (402 `budget_exceeded` with the limit, the spend and when it resets); soft
limits log a warning once per period across replicas. Totals live in the database
(`budget_usage`, fed by `budget_reservations`), never in process memory; a hold that is never
settled (the process died) expires after the request's deadline plus a grace period and stops
counting.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from uuid_utils import uuid7

from app.errors import BudgetExceeded
from app.records import utcnow
from app.store.engine import session_scope
from app.tenancy import ledger
from app.tenancy.principal import TenantPolicy

log = logging.getLogger(__name__)

RETENTION = dt.timedelta(days=62)


def day_period(at: dt.datetime) -> str:
    return f"d{at:%Y-%m-%d}"


def month_period(at: dt.datetime) -> str:
    return f"m{at:%Y-%m}"


def day_reset(at: dt.datetime) -> dt.datetime:
    """Midnight UTC after `at`."""
    return dt.datetime(at.year, at.month, at.day, tzinfo=dt.UTC) + dt.timedelta(days=1)


def month_reset(at: dt.datetime) -> dt.datetime:
    """The first of the next month, UTC."""
    return dt.datetime(at.year + at.month // 12, at.month % 12 + 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Hold:
    """An estimate held against a tenant's budget until settled."""

    id: str
    tenant: TenantPolicy
    amount_usd: Decimal


@dataclass(frozen=True, slots=True)
class PeriodStatus:
    period: str
    soft_limit_usd: Decimal | None
    hard_limit_usd: Decimal | None
    spent_usd: Decimal
    reserved_usd: Decimal
    resets_at: dt.datetime

    def to_dict(self) -> dict[str, object]:
        return {
            "soft_limit_usd": _num(self.soft_limit_usd), "hard_limit_usd": _num(self.hard_limit_usd),
            "spent_usd": float(self.spent_usd), "reserved_usd": float(self.reserved_usd),
            "resets_at": self.resets_at.isoformat().replace("+00:00", "Z"),
        }


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


class Budgets:
    """Reserve-then-settle against the tenant's daily and monthly limits, in the store."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, grace_s: float,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.sessions = sessions
        self.grace_s = grace_s
        self.clock = clock

    async def reserve(self, tenant: TenantPolicy, amount: Decimal, *, deadline_s: float,
                      decision_id: str | None = None) -> Hold:
        """Hold `amount` against both periods in one transaction, or raise BudgetExceeded (402)."""
        now = self.clock()
        day, month = day_period(now), month_period(now)
        amount = max(amount, Decimal(0))
        hold_id = str(uuid7())
        over: str | None = None
        async with session_scope(self.sessions) as session:
            await ledger.ensure_periods(session, tenant.id, (day, month), now)
            for period, limit in ((day, tenant.daily_hard_limit_usd), (month, tenant.monthly_hard_limit_usd)):
                if not await ledger.hold(session, tenant.id, period, amount, limit, now):
                    over = period
                    break
            if over is not None:
                await session.rollback()
            else:
                await ledger.add_reservation(session, {
                    "id": hold_id, "tenant_id": tenant.id, "decision_id": decision_id,
                    "day_period": day, "month_period": month, "amount_usd": amount, "actual_usd": None,
                    "state": ledger.HELD, "created_at": now, "settled_at": None,
                    "expires_at": now + dt.timedelta(seconds=deadline_s + self.grace_s),
                })
        if over is not None:
            raise await self._exceeded(tenant, over, amount)
        return Hold(id=hold_id, tenant=tenant, amount_usd=amount)

    async def settle(self, hold: Hold, actual: Decimal) -> None:
        """Replace the held estimate by the real cost (also after the hold expired: it is still spent)."""
        now = self.clock()
        actual = max(actual, Decimal(0))
        async with session_scope(self.sessions) as session:
            released = await ledger.release(session, hold.id, to_state=ledger.SETTLED,
                                             from_state=ledger.HELD, actual=actual, now=now)
            unreserve = hold.amount_usd
            if released is None:
                # The sweeper expired it first and already took the estimate off the reservations.
                released = await ledger.release(session, hold.id, to_state=ledger.SETTLED,
                                                from_state=ledger.EXPIRED, actual=actual, now=now)
                unreserve = Decimal(0)
            if released is None:
                return
            for period in (released.day_period, released.month_period):
                await ledger.apply(session, released.tenant_id, period, unreserve=unreserve,
                                   spend=actual, now=now)
            alerts = [(released.day_period, "daily", hold.tenant.daily_soft_limit_usd),
                      (released.month_period, "monthly", hold.tenant.monthly_soft_limit_usd)]
            for period, label, soft in alerts:
                if soft is not None:
                    spent = await ledger.mark_soft_alert(session, released.tenant_id, period, soft, now)
                    if spent is not None:
                        log.warning("tenant %s passed its %s soft budget: spent %s USD of %s USD",
                                    hold.tenant.name, label, spent.normalize(), soft.normalize())

    async def sweep(self) -> int:
        """Expire holds past their deadline and prune old closed ones; the number expired."""
        now = self.clock()
        async with session_scope(self.sessions) as session:
            expired = await ledger.expire_due(session, now)
            for r in expired:
                for period in (r.day_period, r.month_period):
                    await ledger.apply(session, r.tenant_id, period, unreserve=r.amount_usd,
                                       spend=Decimal(0), now=now)
            await ledger.prune(session, now - RETENTION)
        if expired:
            log.warning("expired %d budget reservations that were never settled", len(expired))
        return len(expired)

    async def status(self, tenant: TenantPolicy) -> dict[str, PeriodStatus]:
        """The tenant's daily and monthly spend against its limits, as stored."""
        now = self.clock()
        day, month = day_period(now), month_period(now)
        async with self.sessions() as session:
            rows = await ledger.usage(session, tenant.id, (day, month))
        zero = ledger.PeriodUsage(Decimal(0), Decimal(0))
        d, m = rows.get(day, zero), rows.get(month, zero)
        return {
            "daily": PeriodStatus(day, tenant.daily_soft_limit_usd, tenant.daily_hard_limit_usd,
                                  d.spent_usd, d.reserved_usd, day_reset(now)),
            "monthly": PeriodStatus(month, tenant.monthly_soft_limit_usd, tenant.monthly_hard_limit_usd,
                                    m.spent_usd, m.reserved_usd, month_reset(now)),
        }

    async def _exceeded(self, tenant: TenantPolicy, period: str, amount: Decimal) -> BudgetExceeded:
        status = await self.status(tenant)
        label = "daily" if period.startswith("d") else "monthly"
        s = status[label]
        limit = s.hard_limit_usd or Decimal(0)
        resets = s.to_dict()["resets_at"]
        return BudgetExceeded(
            f"the {label} budget of tenant {tenant.name} ({limit.normalize()} USD) would be exceeded: "
            f"{s.spent_usd.normalize()} USD spent, {s.reserved_usd.normalize()} USD held by calls in "
            f"flight, this call needs up to {amount.normalize()} USD; it resets at {resets}",
            details={"tenant": tenant.name, "period": label, "limit_usd": float(limit),
                     "spent_usd": float(s.spent_usd), "reserved_usd": float(s.reserved_usd),
                     "requested_usd": float(amount), "resets_at": resets},
        )
