"""Queries of the feedback package: store a rating, find its decision, aggregate observations."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils import uuid7

from app.records import Outcome
from app.store.models import Attempt, Decision, Feedback

THUMBS_UP_SCORE = 10.0
THUMBS_DOWN_SCORE = 0.0


def feedback_value() -> sa.ColumnElement[Any]:
    """A rating on the 0-10 scale: the score, or thumbs up 10 and down 0."""
    return sa.func.coalesce(
        Feedback.score,
        sa.case((Feedback.thumbs > 0, THUMBS_UP_SCORE), else_=THUMBS_DOWN_SCORE),
    )


async def decision_tenant(session: AsyncSession, decision_id: str) -> tuple[bool, str | None]:
    """(found, tenant) of a decision, reading two columns only."""
    row = (await session.execute(
        sa.select(Decision.id, Decision.tenant).where(Decision.id == decision_id)
    )).first()
    return (False, None) if row is None else (True, row.tenant)


async def add_feedback(
    session: AsyncSession, decision_id: str, *, tenant: str | None, score: float | None,
    thumbs: int | None, comment: str | None,
) -> str:
    """Insert one rating and flush; returns its id."""
    fid = str(uuid7())
    session.add(Feedback(id=fid, decision_id=decision_id, tenant=tenant, score=score,
                         thumbs=thumbs, comment=comment, created_at=dt.datetime.now(dt.UTC)))
    await session.flush()
    return fid


async def heuristic_sums(session: AsyncSession, since: dt.datetime) -> list[tuple[str, str, str, int, float]]:
    """(provider, model, task, count, sum) of the heuristic scores of successful answers."""
    stmt = (
        sa.select(Attempt.provider, Attempt.model, Attempt.task_type,
                  sa.func.count(Attempt.quality_score), sa.func.sum(Attempt.quality_score))
        .where(Attempt.outcome == Outcome.SUCCESS.value, Attempt.quality_score.is_not(None),
               Attempt.created_at >= since)
        .group_by(Attempt.provider, Attempt.model, Attempt.task_type)
    )
    return [tuple(r) for r in (await session.execute(stmt)).all()]  # type: ignore[misc]


async def feedback_sums(session: AsyncSession, since: dt.datetime) -> list[tuple[str, str, str, int, float]]:
    """(provider, model, task, count, sum) of explicit ratings, credited to the model that
    answered (the successful attempt), or to the decision's primary when it was only routed."""
    answered = (
        sa.select(Attempt.decision_id, Attempt.provider, Attempt.model)
        .where(Attempt.outcome == Outcome.SUCCESS.value)
        .subquery()
    )
    provider = sa.func.coalesce(answered.c.provider, Decision.primary_provider)
    model = sa.func.coalesce(answered.c.model, Decision.primary_model)
    value = feedback_value()
    stmt = (
        sa.select(provider, model, Decision.task_type, sa.func.count(), sa.func.sum(value))
        .select_from(Feedback)
        .join(Decision, Decision.id == Feedback.decision_id)
        .outerjoin(answered, answered.c.decision_id == Feedback.decision_id)
        .where(Feedback.created_at >= since, provider.is_not(None), model.is_not(None))
        .group_by(provider, model, Decision.task_type)
    )
    return [tuple(r) for r in (await session.execute(stmt)).all()]
