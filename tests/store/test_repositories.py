"""Rows go in and come out the same on both databases: exact money, UTC times, JSON, idempotency."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store import repositories as repo
from app.store.decision_lists import lists_of
from app.store.engine import create_sessionmaker, session_scope
from app.store.models import Attempt, Decision
from app.store.rows import attempt_row, decision_row, health_row
from tests.store import factories
from tests.store.conftest import count_rows


async def test_decision_and_attempts_round_trip(engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    created = dt.datetime(2025, 5, 4, 3, 2, 1, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    rec = factories.decision(created_at=created, estimated_cost_usd=Decimal("0.0000000123"))
    attempts = [factories.attempt(rec.id, 1, provider="mistral", is_fallback=True,
                                  outcome="error", error_class="ProviderTimeout"),
                factories.attempt(rec.id, 0, outcome="timeout", cost_usd=Decimal("0"))]
    async with session_scope(sessions) as session:
        await repo.insert_rows(session, "decision", [decision_row(rec)])
        await repo.insert_rows(session, "attempt", [attempt_row(a) for a in attempts])

    async with sessions() as session:
        stored = await repo.get_decision(session, rec.id)
        assert stored is not None
        assert stored.id == rec.id
        assert stored.estimated_cost_usd == Decimal("0.0000000123")
        assert stored.created_at == created
        assert stored.created_at.tzinfo is not None and stored.created_at.utcoffset() == dt.timedelta(0)
        assert await lists_of(session, stored) == (rec.chain, rec.excluded)
        assert stored.end_user == "u-1" and stored.status == "routed"
        got = await repo.attempts_of(session, rec.id)
        assert [a.attempt_order for a in got] == [0, 1]
        assert got[1].provider == "mistral" and got[1].is_fallback is True
        assert got[1].error_class == "ProviderTimeout"
        assert got[0].cost_usd == Decimal(0) and got[1].cost_usd == Decimal("0.0015726")
        assert got[0].cached_tokens == 100


async def test_the_same_id_twice_is_stored_once(engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    rec = factories.decision()
    for _ in range(2):
        async with session_scope(sessions) as session:
            await repo.insert_rows(session, "decision", [decision_row(rec)])
    async with session_scope(sessions) as session:
        # a batch that repeats a stored id and carries a new one: only the new one is added
        await repo.insert_rows(session, "decision", [decision_row(rec), decision_row(factories.decision())])
    assert await count_rows(engine, "decisions") == 2


async def test_idempotency_key_is_unique_per_tenant(engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    first = factories.decision(tenant="acme", idempotency_key="k-1")
    retry = factories.decision(tenant="acme", idempotency_key="k-1")
    other_tenant = factories.decision(tenant="globex", idempotency_key="k-1")
    async with session_scope(sessions) as session:
        await repo.insert_rows(session, "decision",
                               [decision_row(r) for r in (first, retry, other_tenant)])
    async with sessions() as session:
        ids = set((await session.scalars(sa.select(Decision.id))).all())
    assert ids == {first.id, other_tenant.id}


async def test_money_sums_exactly_in_sql(engine: AsyncEngine) -> None:
    """Analytics sum costs in SQL: the total must be exact, not a float approximation."""
    sessions = create_sessionmaker(engine)
    rec = factories.decision()
    costs = [Decimal("0.1"), Decimal("0.2"), *[Decimal("0.0000001234")] * 997, Decimal("12345.6789012345")]
    rows = [attempt_row(factories.attempt(rec.id, i, cost_usd=c)) for i, c in enumerate(costs)]
    async with session_scope(sessions) as session:
        await repo.insert_rows(session, "attempt", rows)
    async with sessions() as session:
        total = await session.scalar(sa.select(sa.func.sum(Attempt.cost_usd)))
    assert total == sum(costs)
    assert total == Decimal("12345.9790242643")


async def test_time_windows_compare_in_utc(engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    base = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)
    recs = [factories.decision(created_at=base + dt.timedelta(hours=h)) for h in range(5)]
    async with session_scope(sessions) as session:
        await repo.insert_rows(session, "decision", [decision_row(r) for r in recs])
    # the same instant written in another zone: 14:00 UTC
    since = dt.datetime(2025, 1, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    async with sessions() as session:
        got = (await session.scalars(
            sa.select(Decision.id).where(Decision.created_at >= since).order_by(Decision.created_at)
        )).all()
    assert list(got) == [recs[2].id, recs[3].id, recs[4].id]


async def test_session_scope_rolls_back_when_the_block_fails(engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    with pytest.raises(RuntimeError, match="boom"):
        async with session_scope(sessions) as session:
            await repo.insert_rows(session, "decision", [decision_row(factories.decision())])
            raise RuntimeError("boom")
    assert await count_rows(engine, "decisions") == 0


async def test_health_snapshots_are_stored(engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    snaps = [factories.health("openai"), factories.health("mistral", state="open", success_rate=0.4)]
    async with session_scope(sessions) as session:
        await repo.insert_health_snapshots(session, [health_row(s) for s in snaps])
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.text(
            "SELECT provider, state, success_rate FROM health_snapshots ORDER BY provider"
        ))).all()
    assert [tuple(r) for r in rows] == [("mistral", "open", 0.4), ("openai", "closed", 0.98)]


async def test_naive_datetimes_are_refused(engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    rec = factories.decision(created_at=dt.datetime(2025, 1, 1, 12, 0))
    # SQLAlchemy wraps the type's refusal in a StatementError; the PostgreSQL batch path raises it
    with pytest.raises((sa.exc.StatementError, ValueError), match="naive datetime"):
        async with session_scope(sessions) as session:
            await repo.insert_rows(session, "decision", [decision_row(rec)])
