"""GET …/analytics/experiments: each variant's cost, success, latency, quality and feedback.

Everything is one SQL aggregate per measure (count, sum, sum of squares per variant); the
intervals come from app/experiments/stats.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.experiments.stats import Z95, mean_ci, proportion_ci
from app.feedback.repository import feedback_value
from app.records import DecisionStatus, Outcome
from app.store.models import Attempt, Decision, Feedback
from app.store.types import MONEY_SCALE

EXECUTED = (DecisionStatus.SUCCEEDED.value, DecisionStatus.FAILED.value)


def _scope(stmt: Any, since: dt.datetime, tenant: str | None) -> Any:
    stmt = stmt.where(Decision.variant.is_not(None), Decision.created_at >= since)
    return stmt.where(Decision.tenant == tenant) if tenant is not None else stmt


def _moments(x: sa.ColumnElement[Any]) -> tuple[Any, Any, Any]:
    return sa.func.count(x), sa.func.sum(x), sa.func.sum(x * x)


async def compare_variants(session: AsyncSession, *, since: dt.datetime,
                           tenant: str | None) -> dict[str, dict[str, Any]]:
    """Per variant label: decisions, success rate, and cost, latency, quality, feedback means."""
    out: dict[str, dict[str, Any]] = {}
    executed = sa.case((Decision.status.in_(EXECUTED), 1), else_=0)
    succeeded = sa.case((Decision.status == DecisionStatus.SUCCEEDED.value, 1), else_=0)
    counts = _scope(sa.select(Decision.variant, sa.func.count(), sa.func.sum(executed),
                              sa.func.sum(succeeded)), since, tenant).group_by(Decision.variant)
    for variant, n, ex, ok in (await session.execute(counts)).all():
        out[variant] = {"decisions": int(n),
                        "success_rate": proportion_ci(int(ok or 0), int(ex or 0))}
    per_decision = (
        sa.select(Attempt.decision_id.label("decision_id"),
                  sa.func.sum(Attempt.cost_usd).label("cost"),
                  sa.func.sum(Attempt.latency_ms).label("latency"),
                  sa.func.max(sa.case((Attempt.outcome == Outcome.SUCCESS.value,
                                       Attempt.quality_score))).label("quality"))
        .group_by(Attempt.decision_id).subquery()
    )
    # Money is a count of 1e-10 USD on SQLite and NUMERIC on PostgreSQL (app/store/types.py)
    unit = 10.0 ** MONEY_SCALE if session.get_bind().dialect.name == "sqlite" else 1.0
    cost = sa.cast(per_decision.c.cost, sa.Float) / unit
    measures = _scope(
        sa.select(Decision.variant, *_moments(cost), *_moments(per_decision.c.latency),
                  *_moments(per_decision.c.quality))
        .join(per_decision, per_decision.c.decision_id == Decision.id), since, tenant,
    ).group_by(Decision.variant)
    for row in (await session.execute(measures)).all():
        entry = out.setdefault(row[0], empty_measures())
        entry["cost_usd"] = mean_ci(int(row[1]), float(row[2] or 0), float(row[3] or 0))
        entry["latency_ms"] = mean_ci(int(row[4]), float(row[5] or 0), float(row[6] or 0))
        entry["quality_score"] = mean_ci(int(row[7]), float(row[8] or 0), float(row[9] or 0))
    value = feedback_value()
    ratings = _scope(
        sa.select(Decision.variant, *_moments(value))
        .join(Feedback, Feedback.decision_id == Decision.id), since, tenant,
    ).group_by(Decision.variant)
    for variant, n, total, squares in (await session.execute(ratings)).all():
        entry = out.setdefault(variant, empty_measures())
        entry["feedback"] = mean_ci(int(n), float(total or 0), float(squares or 0))
    for entry in out.values():
        for name, blank in empty_measures().items():
            entry.setdefault(name, blank)
    return out


def empty_measures() -> dict[str, Any]:
    """A variant with no decisions in the window."""
    empty = mean_ci(0, 0.0, 0.0)
    return {"decisions": 0, "success_rate": proportion_ci(0, 0), "cost_usd": empty,
            "latency_ms": empty, "quality_score": empty, "feedback": empty}


def describe_interval() -> str:
    """The method named in every answer."""
    return (f"95 % normal approximation (z = {Z95}): mean +- z*s/sqrt(n) for means, "
            "Wald p +- z*sqrt(p(1-p)/n) for the success rate")
