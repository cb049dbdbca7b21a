"""The health jobs' one query: what the stored attempts cost over a period (never in-memory totals)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.store.models import Attempt


async def cost_between(session: AsyncSession, start: dt.datetime, end: dt.datetime) -> Decimal:
    """Sum of `cost_usd` of the attempts stored in [start, end)."""
    total = await session.scalar(
        sa.select(sa.func.sum(Attempt.cost_usd)).where(
            Attempt.created_at >= start, Attempt.created_at < end)
    )
    return Decimal(total) if total is not None else Decimal(0)
