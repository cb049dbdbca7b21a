"""p95 latency: exact on raw rows (percentile_cont, or its equivalent on SQLite), or from histograms.

PostgreSQL has `percentile_cont`. SQLite has none, so the same value is computed with window
functions: number the latencies of each group in order, take the two around rank q*(n-1) and
interpolate linearly between them, which is exactly percentile_cont's definition. Long windows
read the roll-ups' latency histograms instead (see spec.HIST_EDGES for the error bound).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.aggregate import Filters, raw_filters
from app.analytics.spec import HIST_BUCKETS, HIST_EDGES
from app.analytics.tables import ATTEMPTS
from app.analytics.window import Window

P95 = 0.95
Key = tuple[str, ...]


def _conditions(window: Window, filters: Filters) -> list[sa.ColumnElement[bool]]:
    return [ATTEMPTS.c.created_at >= window.start, ATTEMPTS.c.created_at < window.end,
            ATTEMPTS.c.outcome != "skipped", *raw_filters(ATTEMPTS, filters)]


def exact_statement(
    dialect: str, window: Window, group_by: Sequence[str], filters: Filters, q: float = P95
) -> sa.Select[Any]:
    """SELECT group columns, the q-quantile of latency_ms (percentile_cont semantics)."""
    keys = [ATTEMPTS.c[g] for g in group_by]
    conds = _conditions(window, filters)
    if dialect == "postgresql":
        cont = sa.func.percentile_cont(q).within_group(ATTEMPTS.c.latency_ms)
        return sa.select(*keys, cont.label("p")).where(*conds).group_by(*keys)
    ranked = sa.select(
        *keys,
        ATTEMPTS.c.latency_ms.label("v"),
        (sa.func.row_number().over(partition_by=keys, order_by=ATTEMPTS.c.latency_ms) - 1).label("rn"),
        sa.func.count().over(partition_by=keys).label("n"),
    ).where(*conds).subquery("ranked")
    rank = sa.literal(q, sa.Float()) * (ranked.c.n - 1)
    floor = sa.cast(rank, sa.Integer)
    picked = sa.select(
        *(ranked.c[g] for g in group_by),
        sa.func.max(rank - floor).label("frac"),
        sa.func.max(sa.case((ranked.c.rn == floor, ranked.c.v))).label("lo"),
        sa.func.max(sa.case((ranked.c.rn == floor + 1, ranked.c.v))).label("hi"),
    ).group_by(*(ranked.c[g] for g in group_by)).subquery("picked")
    value = picked.c.lo + (sa.func.coalesce(picked.c.hi, picked.c.lo) - picked.c.lo) * picked.c.frac
    return sa.select(*(picked.c[g] for g in group_by), value.label("p"))


async def exact(
    session: AsyncSession, window: Window, group_by: Sequence[str], filters: Filters, q: float = P95
) -> dict[Key, float]:
    """The exact q-quantile of call latency per group, over raw rows."""
    stmt = exact_statement(session.get_bind().dialect.name, window, group_by, filters, q)
    rows = await session.execute(stmt)
    out: dict[Key, float] = {}
    for row in rows:
        *key, value = row
        if value is not None:
            out[tuple(str(k) for k in key)] = float(value)
    return out


def _value_at(counts: Sequence[int], rank: int) -> float:
    """The estimated value of the sample at 0-based `rank`: spread evenly inside its bucket."""
    seen = 0
    for k, count in enumerate(counts):
        if count and rank < seen + count:
            if k == HIST_BUCKETS - 1:
                return HIST_EDGES[-1]
            lo = 0.0 if k == 0 else HIST_EDGES[k - 1]
            return lo + (HIST_EDGES[k] - lo) * ((rank - seen + 0.5) / count)
        seen += count
    return HIST_EDGES[-1]


def from_histogram(counts: Sequence[int], q: float = P95) -> float | None:
    """The q-quantile from bucket counts, interpolated between ranks like percentile_cont."""
    total = sum(counts)
    if total == 0:
        return None
    rank = q * (total - 1)
    low = math.floor(rank)
    value = _value_at(counts, low)
    if low + 1 < total:
        value += (rank - low) * (_value_at(counts, low + 1) - value)
    return value


def bucket_of(latency_ms: float) -> int:
    """The histogram bucket of one latency (the same edges the triggers use)."""
    if latency_ms < 1:
        return 0
    k = min(HIST_BUCKETS - 1, math.floor(4 * math.log2(latency_ms)) + 1)
    while k > 1 and latency_ms < HIST_EDGES[k - 1]:
        k -= 1
    while k < HIST_BUCKETS - 1 and latency_ms >= HIST_EDGES[k]:
        k += 1
    return k
