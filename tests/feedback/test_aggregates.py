"""The SQL aggregates behind the estimates and the experiment comparison, on both databases."""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from uuid_utils import uuid7

from app.experiments.comparison import compare_variants
from app.feedback import repository
from app.records import AttemptRecord, DecisionRecord, DecisionStatus, Outcome
from app.store.engine import create_engine, create_sessionmaker, session_scope
from app.store.repositories import insert_rows
from app.store.rows import attempt_row, decision_row


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(db_url)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def test_estimate_and_experiment_sums(sessions: async_sessionmaker[AsyncSession]) -> None:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    tag = uuid7().hex[:12]
    provider, variant = f"prov-{tag}", f"exp-{tag}/a"
    decisions = [DecisionRecord(id=str(uuid7()), task_type="code", budget="low", region="global",
                                requires_sla=False, requires_compliance=False, input_tokens=10,
                                output_tokens=10, status=DecisionStatus.SUCCEEDED, variant=variant,
                                primary_provider=provider, primary_model="m1")
                 for _ in range(4)]
    routed_only = DecisionRecord(id=str(uuid7()), task_type="code", budget="low", region="global",
                                 requires_sla=False, requires_compliance=False, input_tokens=10,
                                 output_tokens=10, status=DecisionStatus.ROUTED,
                                 primary_provider=provider, primary_model="m2")
    costs = ["0.0012", "0.0030", "0.0005", "0.0100"]
    attempts = [AttemptRecord(id=str(uuid7()), decision_id=d.id, attempt_order=0, provider=provider,
                              model="m1", outcome=Outcome.SUCCESS, task_type="code",
                              latency_ms=50.0 * (i + 1), cost_usd=Decimal(costs[i]),
                              quality_score=float(i + 5))
                for i, d in enumerate(decisions)]
    attempts.append(AttemptRecord(id=str(uuid7()), decision_id=decisions[0].id, attempt_order=1,
                                  provider=provider, model="m1", outcome=Outcome.ERROR,
                                  task_type="code", quality_score=None))
    async with session_scope(sessions) as session:
        await insert_rows(session, "decision", [decision_row(d) for d in [*decisions, routed_only]])
        await insert_rows(session, "attempt", [attempt_row(a) for a in attempts])
        await repository.add_feedback(session, decisions[0].id, tenant=None, score=4.0,
                                      thumbs=None, comment=None)
        await repository.add_feedback(session, decisions[1].id, tenant=None, score=None,
                                      thumbs=1, comment="good")
        await repository.add_feedback(session, routed_only.id, tenant=None, score=None,
                                      thumbs=-1, comment=None)
    async with session_scope(sessions) as session:
        heuristic = [r for r in await repository.heuristic_sums(session, since) if r[0] == provider]
        ratings = sorted(r for r in await repository.feedback_sums(session, since) if r[0] == provider)
        compared = (await compare_variants(session, since=since, tenant=None))[variant]
    assert [(p, m, t, n, float(s)) for p, m, t, n, s in heuristic] == [(provider, "m1", "code", 4, 26.0)]
    # the score and thumbs up (10) go to the model that answered; the routed-only one's thumbs
    # down (0) to its primary
    assert [(p, m, t, n, float(s)) for p, m, t, n, s in ratings] == [
        (provider, "m1", "code", 2, 14.0), (provider, "m2", "code", 1, 0.0)]
    values = [float(c) for c in costs]
    mean = statistics.fmean(values)
    half = 1.96 * statistics.stdev(values) / math.sqrt(4)
    assert compared["cost_usd"] == pytest.approx({"n": 4, "mean": mean, "low": mean - half,
                                                  "high": mean + half})
    latencies = [50.0 + 0.0, 100.0, 150.0, 200.0]  # the first decision's error attempt took 0
    assert compared["latency_ms"]["mean"] == pytest.approx(statistics.fmean(latencies))
    assert compared["feedback"]["n"] == 2 and compared["feedback"]["mean"] == pytest.approx(7.0)
    assert compared["success_rate"]["rate"] == 1.0 and compared["decisions"] == 4
