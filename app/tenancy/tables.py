"""The budget tables (revision 0002): per-period counters and the reservations that feed them.

`budget_usage` holds, per tenant and period (`d2025-11-26`, `m2025-11`), what was spent and
what is reserved by calls in flight; every change is one conditional UPDATE, so the database
serialises concurrent requests. `budget_reservations` is the ledger behind those counters: one
row per held estimate, settled with the real cost or expired when never settled.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models import UUID, Base
from app.store.types import Money, UtcDateTime


class BudgetUsage(Base):
    """Spent and reserved USD of one tenant in one budget period."""

    __tablename__ = "budget_usage"

    tenant_id: Mapped[str] = mapped_column(
        UUID, sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    period: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    spent_usd: Mapped[Decimal] = mapped_column(Money, nullable=False, default=Decimal(0))
    reserved_usd: Mapped[Decimal] = mapped_column(Money, nullable=False, default=Decimal(0))
    soft_alerted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)


class BudgetReservation(Base):
    """One execution's estimated cost, held until it is settled with the real one or expires."""

    __tablename__ = "budget_reservations"

    id: Mapped[str] = mapped_column(UUID, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(
        UUID, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)
    decision_id: Mapped[str | None] = mapped_column(UUID)
    day_period: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    month_period: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    amount_usd: Mapped[Decimal] = mapped_column(Money, nullable=False)
    actual_usd: Mapped[Decimal | None] = mapped_column(Money)
    state: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)
    settled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        sa.Index(None, "state", "expires_at"),
        sa.Index(None, "tenant_id", "created_at"),
    )
