"""The SQLite batch insert stores every cell exactly as SQLAlchemy's own INSERT would."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from uuid_utils import uuid7

from app.store import migrate
from app.store import repositories as repo
from app.store.engine import create_engine, create_sessionmaker, session_scope
from app.store.rows import Kind, Row, attempt_row, decision_row, health_row
from tests.store import factories


async def migrated(path: Path, revision: str | None = None) -> AsyncEngine:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    if revision is None:
        await migrate.upgrade_locked(engine, path.parent / f"{path.name}.lock")
    else:
        await migrate.upgrade(engine, revision)
    return engine


ROLLUPS = [f"{family}_{grain}" for grain in ("hourly", "daily")
           for family in ("analytics_attempts", "analytics_failures", "analytics_decisions")]


def sample_rows() -> dict[Kind, list[Row]]:
    created = dt.datetime(2025, 5, 4, 3, 2, 1, 123456, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    plain = factories.decision(tenant=None, user=None, strategy=None, variant="b",
                               estimated_cost_usd=None,
                               created_at=dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
    odd = factories.decision(created_at=created, estimated_cost_usd=Decimal("0.00000000005"),
                             chain=[{"provider": "x", "note": "ünïcode \" ' \\"}], idempotency_key="k-1")
    return {
        "decision": [decision_row(plain), decision_row(odd)],
        "attempt": [
            attempt_row(factories.attempt(odd.id, 0, outcome="error", error_class="server_error",
                                          status_code=500, cost_usd=Decimal("0"), quality_score=None)),
            attempt_row(factories.attempt(odd.id, 1, is_fallback=True, cost_usd=Decimal("1.23456789012"),
                                          quality_score=7.25, cost_estimated=True)),
            # not canonical (upper case, no hyphens): the column's own processor normalises them
            attempt_row(factories.attempt(odd.id.upper(), 2, id=str(uuid7()).replace("-", ""),
                                          created_at=dt.datetime(2025, 6, 1, 0, 0, 0, 1, tzinfo=dt.UTC))),
        ],
        "health": [health_row(factories.health())],
    }


async def stored(engine: AsyncEngine, table: str) -> list[tuple[object, ...]]:
    async with engine.connect() as conn:
        result = await conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY 1, 2, 3")
        return [tuple(r) for r in result.all()]


async def test_cells_match_sqlalchemys_own_insert(tmp_path: Path) -> None:
    # theirs: SQLAlchemy's own insert into the schema whose row triggers kept the roll-ups
    ours = await migrated(tmp_path / "ours.db")
    theirs = await migrated(tmp_path / "theirs.db", "0003_analytics")
    try:
        async with theirs.begin() as conn:  # the columns revision 0005 added, so rows compare whole
            await conn.exec_driver_sql("ALTER TABLE decisions ADD COLUMN chain_set VARCHAR(64)")
            await conn.exec_driver_sql("ALTER TABLE decisions ADD COLUMN excluded_set VARCHAR(64)")
        rows = sample_rows()
        async with session_scope(create_sessionmaker(ours)) as session:
            for kind, batch in rows.items():
                assert await repo.insert_rows(session, kind, batch) == len(batch)
        async with session_scope(create_sessionmaker(theirs)) as session:
            for kind, batch in rows.items():
                columns = repo.TABLES[kind].c  # a decision row also carries its lists' entries
                await session.execute(repo.insert_ignoring_duplicates("sqlite", repo.TABLES[kind]),
                                      [{k: v for k, v in row.items() if k in columns} for row in batch])
        for kind in rows:
            table = repo.TABLES[kind].name
            assert await stored(ours, table) == await stored(theirs, table)
            assert len(await stored(ours, table)) == len(rows[kind])
        # the roll-ups the writer adds per batch are the ones the row triggers kept
        for rollup in ROLLUPS:
            assert await stored(ours, rollup) == await stored(theirs, rollup), rollup
            assert await stored(ours, rollup), rollup
    finally:
        await ours.dispose()
        await theirs.dispose()


async def test_a_big_batch_counts_only_new_rows(tmp_path: Path) -> None:
    engine = await migrated(tmp_path / "r.db")
    try:
        sessions = create_sessionmaker(engine)
        records = [factories.decision() for _ in range(207)]
        # already stored: rows at the start and in the middle
        first = records[:5] + records[103:106]
        async with session_scope(sessions) as session:
            assert await repo.insert_rows(session, "decision", [decision_row(r) for r in first]) == 8
        async with session_scope(sessions) as session:
            added = await repo.insert_rows(session, "decision", [decision_row(r) for r in records])
        assert added == len(records) - 8
        async with session_scope(sessions) as session:  # a replayed spool: nothing new
            assert await repo.insert_rows(session, "decision", [decision_row(r) for r in records]) == 0
        async with engine.connect() as conn:
            assert (await conn.execute(sa.text("SELECT count(*) FROM decisions"))).scalar() == len(records)
            # each stored decision is rolled up exactly once, skipped replays not at all
            for grain in ("hourly", "daily"):
                total = await conn.execute(sa.text(f"SELECT sum(decisions) FROM analytics_decisions_{grain}"))
                assert total.scalar() == len(records)
    finally:
        await engine.dispose()
