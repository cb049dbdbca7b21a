"""A workload from the decisions already recorded in the store (past traffic, oldest first)."""

from __future__ import annotations

import sqlalchemy as sa

from app.config.enums import BudgetTier, Region, TaskType
from app.simulation.workload import WorkloadItem
from app.store.engine import create_engine
from app.store.models import Decision

_COLUMNS = (Decision.created_at, Decision.task_type, Decision.budget, Decision.region,
            Decision.requires_sla, Decision.requires_compliance, Decision.input_tokens,
            Decision.output_tokens, Decision.tenant)


async def load_history(url: str, *, limit: int | None = None) -> list[WorkloadItem]:
    """Every recorded decision (any status: rejected ones are traffic too) as a workload item."""
    engine = create_engine(url)
    try:
        query = sa.select(*_COLUMNS).order_by(Decision.created_at, Decision.id)
        if limit is not None:
            query = query.limit(limit)
        async with engine.connect() as conn:
            rows = (await conn.execute(query)).all()
    finally:
        await engine.dispose()
    first = rows[0].created_at if rows else None
    return [
        WorkloadItem(
            task=TaskType(r.task_type), budget=BudgetTier(r.budget), region=Region(r.region),
            context_tokens=r.input_tokens, output_tokens=max(1, r.output_tokens),
            requires_sla=r.requires_sla, requires_compliance=r.requires_compliance, tenant=r.tenant,
            arrival_s=(r.created_at - first).total_seconds() if first is not None else None,
        )
        for r in rows
    ]
