"""A SQLite batch runs as one call in aiosqlite's thread, counts each new record once in the
roll-ups, and fails whole, with SQLAlchemy's errors, as a batch sent statement by statement did."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from app.analytics.spec import FAMILIES, GRAINS
from app.store import batch_sqlite, migrate
from app.store import repositories as repo
from app.store.batch import store_batch
from app.store.bulk_sqlite import InsertSql
from app.store.decision_lists import StoredLists
from app.store.engine import create_engine, create_sessionmaker, session_scope
from app.store.failures import is_row_error
from app.store.rollup_sqlite import rollup_statements
from app.store.rows import Kind, Row, attempt_row, decision_row, health_row
from tests.store import factories

ROLLUPS = [family.table(grain) for family in FAMILIES for grain in GRAINS]
SOURCES = ("decisions", "attempts", "health_snapshots")
Batch = list[tuple[Kind, Row]]


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> Any:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
    await migrate.upgrade_locked(engine, tmp_path / "r.db.lock")
    yield engine
    await engine.dispose()


def requests(n: int, start: dt.datetime) -> Iterator[Batch]:
    """n requests' records: a decision and one or two attempts each, spread over hours, outcomes
    and latencies (so every roll-up family and histogram bucket range gets rows)."""
    outcomes = ("success", "error", "timeout", "skipped")
    for i in range(n):
        created = start + dt.timedelta(minutes=37 * i)
        decision = factories.decision(created_at=created, tenant=("acme", "globex", None)[i % 3],
                                      task_type=("chat", "code")[i % 2])
        rows: Batch = [("decision", decision_row(decision))]
        for order in range(1 + i % 2):
            outcome = outcomes[(i + order) % len(outcomes)]
            rows.append(("attempt", attempt_row(factories.attempt(
                decision.id, order, created_at=created, outcome=outcome, latency_ms=0.5 + 37.3 * i,
                error_class=None if outcome == "success" else "server_error",
                task_type=decision.task_type, tenant=decision.tenant))))
        yield rows


def rounded(rows: Any) -> list[tuple[Any, ...]]:
    """Rows with floats to 9 places: sums of latencies differ in the last bits with their order."""
    return [tuple(round(v, 9) if isinstance(v, float) else v for v in r) for r in rows]


async def table(engine: AsyncEngine, name: str) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        return rounded((await conn.exec_driver_sql(f"SELECT * FROM {name} ORDER BY 1, 2, 3")).all())


async def recomputed(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """The roll-ups rebuilt from all the stored rows at once (left rolled back)."""
    async with engine.connect() as conn:
        for name in ROLLUPS:
            await conn.exec_driver_sql(f"DELETE FROM {name}")
        for source in SOURCES:
            last = (await conn.exec_driver_sql(f"SELECT coalesce(max(rowid), 0) FROM {source}")).scalar_one()
            for sql in rollup_statements(source):
                await conn.exec_driver_sql(sql, (0, last))
        rebuilt = {}
        for name in ROLLUPS:
            result = await conn.exec_driver_sql(f"SELECT * FROM {name} ORDER BY 1, 2, 3")
            rebuilt[name] = rounded(result.all())
        await conn.rollback()
    return rebuilt


async def test_aiosqlite_still_has_the_private_parts_a_batch_runs_on(sqlite_engine: AsyncEngine) -> None:
    # If this fails, batches still work, statement by statement (dozens of hand-offs each).
    assert callable(getattr(aiosqlite.Connection, "_execute", None))
    assert isinstance(getattr(aiosqlite.Connection, "_conn", None), property)
    async with sqlite_engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert batch_sqlite.runs_in_driver_thread(raw.driver_connection)


async def test_a_batch_costs_three_hand_offs_to_the_driver_thread(
    sqlite_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions, lists = create_sessionmaker(sqlite_engine), StoredLists()
    batch = [row for rows in requests(40, dt.datetime(2025, 3, 1, tzinfo=dt.UTC)) for row in rows]
    batch.append(("health", health_row(factories.health())))
    await store_batch(sessions, batch[:3], lists)  # the connection opened, the statements planned
    hand_offs: list[str] = []
    execute: Any = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        hand_offs.append(getattr(fn, "__name__", repr(fn)))
        return await execute(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    await store_batch(sessions, batch, lists)
    # the batch, its commit, the pool's rollback on return (was 43 statement by statement)
    assert hand_offs == ["run", "commit", "rollback"]


async def test_rollups_equal_a_recomputation_after_replays_and_duplicates(sqlite_engine: AsyncEngine) -> None:
    sessions, lists = create_sessionmaker(sqlite_engine), StoredLists()
    first = list(requests(30, dt.datetime(2025, 3, 1, 22, tzinfo=dt.UTC)))
    later = list(requests(30, dt.datetime(2025, 3, 2, 9, tzinfo=dt.UTC)))
    flat = [row for rows in first for row in rows]
    await store_batch(sessions, flat, lists)
    # a retried batch: half the records stored already, in the middle of new ones
    await store_batch(sessions, [row for rows in later[:10] for row in rows] + flat[10:40]
                      + [row for rows in later[10:] for row in rows], lists)
    await store_batch(sessions, flat, lists)  # a whole replay: nothing new
    # a second decision reusing a tenant's idempotency key is ignored, and not rolled up
    keyed = factories.decision(idempotency_key="k-7", created_at=dt.datetime(2025, 3, 2, tzinfo=dt.UTC))
    again = factories.decision(idempotency_key="k-7", created_at=dt.datetime(2025, 3, 2, tzinfo=dt.UTC))
    await store_batch(sessions, [("decision", decision_row(keyed)), ("decision", decision_row(again))],
                      lists)
    assert len(await table(sqlite_engine, "decisions")) == 61
    expected = await recomputed(sqlite_engine)
    for name in ROLLUPS:
        assert await table(sqlite_engine, name) == expected[name], name
    assert all(expected[name] for name in ROLLUPS)


async def test_the_adapter_fallback_stores_what_the_driver_thread_does(tmp_path: Path) -> None:
    rows: dict[Kind, list[Row]] = {"decision": [], "attempt": [], "health": [health_row(factories.health())]}
    for batch in requests(25, dt.datetime(2025, 4, 1, tzinfo=dt.UTC)):
        for kind, row in batch:
            rows[kind].append(row)
    engines = []
    for name in ("thread", "adapter"):
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / name}.db")
        await migrate.upgrade_locked(engine, tmp_path / f"{name}.lock")
        engines.append(engine)
    try:
        async with session_scope(create_sessionmaker(engines[0])) as session:
            counts = await repo.insert_batch(session, rows)
        async with session_scope(create_sessionmaker(engines[1])) as session:
            conn = await session.connection()
            raw = await conn.get_raw_connection()
            inserts = repo.sqlite_inserts(conn.dialect, rows)
            fallback = await conn.run_sync(lambda _: batch_sqlite.run(raw.dbapi_connection, inserts))
        assert counts == {"decision": 25, "attempt": 37, "health": 1}
        assert fallback == [1, 25, 37, 1]  # the decisions' one shared list first
        for name in ("decision_lists", "decisions", "attempts", "health_snapshots", *ROLLUPS):
            assert await table(engines[0], name) == await table(engines[1], name), name
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_refused_row_fails_the_whole_batch_as_a_row_error(sqlite_engine: AsyncEngine) -> None:
    batch = [row for rows in requests(5, dt.datetime(2025, 3, 1, tzinfo=dt.UTC)) for row in rows]
    broken = dict(batch[-1][1], provider=None)  # the last attempt breaks NOT NULL
    with pytest.raises(sa_exc.IntegrityError) as caught:
        await store_batch(create_sessionmaker(sqlite_engine), [*batch[:-1], ("attempt", broken)],
                          StoredLists())
    assert is_row_error(caught.value)
    assert "attempts.provider" in str(caught.value.orig)
    for name in ("decision_lists", "decisions", "attempts", *ROLLUPS):  # all rolled back
        assert await table(sqlite_engine, name) == [], name


async def test_a_closed_driver_connection_is_a_database_error_then_replaced(
    sqlite_engine: AsyncEngine
) -> None:
    sessions = create_sessionmaker(sqlite_engine)
    async with sqlite_engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        await driver.close()
    batch: Batch = [("decision", decision_row(factories.decision()))]
    with pytest.raises(sa_exc.OperationalError) as caught:
        await store_batch(sessions, batch, StoredLists())
    assert not is_row_error(caught.value)  # the writer keeps the rows and retries
    assert caught.value.connection_invalidated
    await store_batch(sessions, batch, StoredLists())  # the pool opened a new connection
    assert len(await table(sqlite_engine, "decisions")) == 1


SOURCE_INSERTS = {f"INSERT INTO {name}" for name in ("decision_lists", *SOURCES)}


def traced_run(path: Path, inserts: list[batch_sqlite.Insert], variable_limit: int | None = None
               ) -> tuple[list[int], list[str]]:
    """batch_sqlite.run over a plain sqlite3 connection; the inserts into the record tables SQLite ran."""
    connection = sqlite3.connect(path)
    statements: list[str] = []
    try:
        if variable_limit is not None:
            connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, variable_limit)
        connection.set_trace_callback(statements.append)
        counts = batch_sqlite.run(connection, inserts)
        connection.commit()
    finally:
        connection.close()
    return counts, [head for s in statements if (head := s.split(" (")[0]) in SOURCE_INSERTS]


async def test_a_batch_inserts_each_table_in_one_statement_and_splits_past_the_parameter_limit(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    # One step per row would let go of the GIL and wait to take it back after each, up to 5 ms
    # apiece while the event loop is busy.
    rows: dict[Kind, list[Row]] = {"decision": [], "attempt": [], "health": []}
    for batch in requests(60, dt.datetime(2025, 5, 1, tzinfo=dt.UTC)):
        for kind, row in batch:
            rows[kind].append(row)
    inserts = repo.sqlite_inserts(sqlite_engine.dialect, rows)
    whole, limited = tmp_path / "whole.db", tmp_path / "limited.db"
    async with sqlite_engine.connect() as conn:  # empty copies of the migrated schema
        for path in (whole, limited):
            await conn.exec_driver_sql(f"VACUUM INTO '{path}'")
    counts, statements = traced_run(whole, inserts)
    assert counts == [1, 60, 90]
    assert statements == ["INSERT INTO decision_lists", "INSERT INTO decisions", "INSERT INTO attempts"]
    # 100 parameters at most: 4 decisions (23 columns) or 4 attempts (22) a statement
    counts, statements = traced_run(limited, inserts, variable_limit=100)
    assert counts == [1, 60, 90]
    assert statements.count("INSERT INTO decisions") == 15 and statements.count("INSERT INTO attempts") == 23
    for name in ("decision_lists", "decisions", "attempts", *ROLLUPS):
        assert await table_at(whole, name) == await table_at(limited, name), name
    assert all([await table_at(whole, name) for name in ROLLUPS])  # the roll-ups saw the rows


async def table_at(path: Path, name: str) -> list[tuple[Any, ...]]:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        return await table(engine, name)
    finally:
        await engine.dispose()


def test_statements_come_in_few_shapes_padded_with_copies_of_the_last_row() -> None:
    sql = InsertSql("INSERT INTO t (a, b, c) VALUES ", 3)
    rows = [(i, f"r{i}", None) for i in range(500)]
    [(text, params)] = list(sql.statements(rows[:5], 32766))
    assert text.count("(?, ?, ?)") == 8
    assert params == [*chain.from_iterable(rows[:5]), *rows[4] * 3]
    # every batch size from 1 to 500 rows in 8 statements (1 to 128 rows), each compiled once
    shapes = {text for n in range(1, 501) for text, _ in sql.statements(rows[:n], 32766)}
    assert sorted(text.count("(?, ?, ?)") for text in shapes) == [1, 2, 4, 8, 16, 32, 64, 128]
    assert [text.count("(?, ?, ?)") for text, _ in sql.statements(rows[:300], 32766)] == [128, 128, 64]
    # past the parameter limit (10 here): chunks of the largest power of two that fits
    chunks = list(sql.statements(rows[:7], 10))
    assert [text.count("(?, ?, ?)") for text, _ in chunks] == [2, 2, 2, 1]
    assert [p for _, params in chunks for p in params] == list(chain.from_iterable(rows[:7]))
