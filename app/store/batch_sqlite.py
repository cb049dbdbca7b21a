"""SQLite: a batch's inserts and roll-ups run as one function in the driver's thread.

aiosqlite runs every call on its connection in its own thread, so each statement sent through
SQLAlchemy costs a few hand-offs (cursor, execute, fetch), each a thread wake-up, an event-loop
wake-up and SQLAlchemy's execution machinery on the event loop, the service's bottleneck: a
100-row batch (decisions, their attempts, two health snapshots) took 43, and now takes 3 (this
call, the commit, the pool's rollback on return). Here the whole batch (its decision lists, then
each table's INSERT … ON CONFLICT DO NOTHING followed by its roll-ups) is one plain function over
the sqlite3 connection, handed to that thread once, inside the session's transaction (sqlite3
begins it at the first insert), which SQLAlchemy then commits or rolls back as before. The rows
become parameter tuples there too, in that thread (sharing the GIL, so the same CPU).

aiosqlite offers no public way to run a function in its thread: this uses its `_execute` and
`_conn` (SQLAlchemy's own adapter reaches for `_conn` and `_tx`). Should they go, the same
function runs over SQLAlchemy's DBAPI adapter on the event loop, a hand-off per call as before;
tests/store/test_batch_sqlite.py fails if they go. On a SQLite file the service runs the same
statements in a writer process instead (`converted` and `plan` here, app/store/batch.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from app.store.bulk_sqlite import InsertSql, sqlite_plan
from app.store.rollup_sqlite import rollup_statements
from app.store.rows import Kind, Row, RowTuples
from app.store.sqlite_exec import Failed, Plan, execute

__all__ = ["Failed", "Insert", "converted", "plan", "plans", "run", "store", "translated", "variable_limit"]


@dataclass(frozen=True, slots=True)
class Insert:
    """One table's rows, its INSERT … ON CONFLICT DO NOTHING and its roll-ups' UPSERTs; `kind`:
    the records' kind (None for decision lists)."""

    sql: InsertSql
    tuples: RowTuples
    rows: Sequence[Row]
    rollups: tuple[str, ...]
    kind: Kind | None = None

    @classmethod
    def of(cls, table: sa.Table, dialect: Dialect, rows: Sequence[Row], kind: Kind | None = None) -> Insert:
        sql, tuples = sqlite_plan(table, dialect)
        return cls(sql, tuples, rows, rollup_statements(table.name), kind)


def plans(inserts: Sequence[Insert], limit: int) -> list[Plan]:
    """The inserts as plain statements (rows as parameter tuples, at most `limit` parameters a
    statement); raises Failed naming the insert whose rows would not convert."""
    return [plan(insert, converted(insert, insert.rows), limit) for insert in inserts]


def converted(insert: Insert, rows: Sequence[Row]) -> list[tuple[Any, ...]]:
    """Some of an insert's rows as parameter tuples; Failed names the insert if one will not convert."""
    try:
        return insert.tuples(rows)
    except Exception as exc:
        raise Failed(insert.sql.one_row(), exc) from exc


def plan(insert: Insert, tuples: Sequence[tuple[Any, ...]], limit: int) -> Plan:
    """One insert's statements for its rows' tuples, and its roll-ups."""
    statements = list(insert.sql.statements(tuples, limit)) if tuples else []
    return Plan(insert.sql.one_row(), statements, insert.rollups)


def run(connection: Any, inserts: Sequence[Insert]) -> list[int]:
    """Each insert in order, then its roll-ups over the rows it added; how many each added.

    `connection` is a DBAPI connection: sqlite3's, in aiosqlite's thread, or SQLAlchemy's
    adapter of aiosqlite's, on the event loop (app/store/sqlite_exec.py runs the statements).
    """
    return execute(connection, plans(inserts, variable_limit(connection)))


def variable_limit(connection: Any) -> int:
    """SQLite's limit on one statement's bound parameters (32,766 by default since 3.32; 999 if
    the connection cannot say, as SQLAlchemy's adapter cannot)."""
    getlimit = getattr(connection, "getlimit", None)
    return int(getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)) if getlimit is not None else 999


def runs_in_driver_thread(driver: Any) -> bool:
    """Whether aiosqlite's connection still has the private parts this module uses."""
    return callable(getattr(driver, "_execute", None)) and isinstance(
        getattr(type(driver), "_conn", None), property)


async def store(connection: AsyncConnection, inserts: Sequence[Insert]) -> list[int]:
    """Run the inserts in the connection's transaction, in one hand-off to aiosqlite's thread if
    it can; how many rows each added. Errors are SQLAlchemy's, as its own execution raises them."""
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    try:
        if runs_in_driver_thread(driver):
            return await _in_driver_thread(driver, inserts)
        return await connection.run_sync(lambda _: run(raw.dbapi_connection, inserts))
    except Failed as exc:
        failed = exc
    raise await _translated(connection, failed)


async def _in_driver_thread(driver: Any, inserts: Sequence[Insert]) -> list[int]:
    try:
        counts: list[int] = await driver._execute(run, driver._conn, inserts)
    except ValueError as exc:  # aiosqlite's own: its connection is closed (run raises Failed)
        raise Failed(None, sqlite3.OperationalError(*exc.args)) from exc
    return counts


async def _translated(connection: AsyncConnection, failed: Failed) -> BaseException:
    """The error as SQLAlchemy raises a driver's (an IntegrityError for a constraint, so the writer
    dead-letters the row); a connection found closed is invalidated, as SQLAlchemy does."""
    error = failed.error
    dialect = connection.dialect
    if not isinstance(error, dialect.loaded_dbapi.Error):
        return error  # a value our conversion refused (ValueError, TypeError), as before
    invalidated = bool(dialect.is_disconnect(error, None, None))
    if invalidated:
        await connection.invalidate(error)
    return translated(failed, dialect, invalidated=invalidated)


def translated(failed: Failed, dialect: Dialect, *, invalidated: bool = False) -> BaseException:
    """A driver error wrapped as SQLAlchemy wraps it (IntegrityError, OperationalError, ...);
    any other error as it is."""
    error = failed.error
    base = dialect.loaded_dbapi.Error
    if not isinstance(error, base):
        return error
    wrapped = sa_exc.DBAPIError.instance(failed.statement, None, error, base, hide_parameters=True,
                                         connection_invalidated=invalidated, dialect=dialect)
    wrapped.__cause__ = error
    return wrapped.with_traceback(error.__traceback__)
