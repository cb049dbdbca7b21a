"""Queries on the record tables. Repositories flush, never commit: the caller's scope commits."""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from app.store import batch_sqlite
from app.store.batch_sqlite import Insert
from app.store.bulk import copy_insert, unnest_insert
from app.store.decision_lists import DECISION_LISTS, list_rows
from app.store.models import Attempt, Decision, HealthSnapshot
from app.store.rows import KINDS, Kind, Row

TABLES: dict[Kind, sa.Table] = {
    "decision": Decision.__table__,  # type: ignore[dict-item]
    "attempt": Attempt.__table__,  # type: ignore[dict-item]
    "health": HealthSnapshot.__table__,  # type: ignore[dict-item]
}


def insert_ignoring_duplicates(dialect: str, table: sa.Table) -> Any:
    """INSERT … ON CONFLICT DO NOTHING for this dialect: a replayed row never counts twice.

    No conflict target, so a second decision reusing a tenant's idempotency key is ignored too.
    """
    if dialect == "postgresql":
        # Imported here: its dialect (~20 modules, ~30 ms) is not needed to start on SQLite.
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise ValueError(f"unsupported database dialect {dialect!r}")


async def insert_batch(session: AsyncSession, by_kind: Mapping[Kind, Sequence[Row]],
                       stored_lists: Container[str] = (), *, copy: bool = False,
                       lists: Sequence[Row] = ()) -> dict[Kind, int]:
    """Insert rows of each kind, in the order of KINDS (decisions first, after the decision
    lists, `lists` among them), skipping those already stored; returns how many of each kind
    were new.

    On PostgreSQL kind after kind (`insert_rows`); on SQLite all of them, with their roll-ups, in
    one call in the driver's thread (app/store/batch_sqlite.py).
    """
    dialect = session.get_bind().dialect
    if dialect.name != "sqlite":
        return {kind: await insert_rows(session, kind, by_kind.get(kind, ()), stored_lists, copy=copy,
                                        lists=lists if kind == "decision" else ())
                for kind in KINDS}
    inserts = sqlite_inserts(dialect, by_kind, stored_lists, lists)
    counts = await batch_sqlite.store(await session.connection(), inserts) if inserts else []
    added = dict.fromkeys(KINDS, 0)
    for insert, count in zip(inserts, counts, strict=True):
        if insert.kind is not None:
            added[insert.kind] = count
    return added


def sqlite_inserts(dialect: Dialect, by_kind: Mapping[Kind, Sequence[Row]],
                   stored_lists: Container[str] = (), lists: Sequence[Row] = ()) -> list[Insert]:
    """A SQLite batch's inserts in order: the lists (spooled on their own, or carried by its
    decisions), then each kind's rows."""
    inserts = []
    decisions = by_kind.get("decision") or ()
    if decisions or lists:  # the chains and exclusions decisions name, first
        inserts.append(Insert.of(DECISION_LISTS, dialect, list_rows(decisions, stored_lists, lists)))
    for kind in KINDS:
        rows = by_kind.get(kind)
        if rows:
            inserts.append(Insert.of(TABLES[kind], dialect, rows, kind))
    return inserts


async def insert_rows(session: AsyncSession, kind: Kind, rows: Sequence[Row],
                      stored_lists: Container[str] = (), *, copy: bool = False,
                      lists: Sequence[Row] = ()) -> int:
    """Insert rows of one kind, skipping ids (and idempotency keys) already stored; returns how
    many were new.

    On PostgreSQL one INSERT … SELECT FROM unnest(array of rows) … ON CONFLICT DO NOTHING per
    batch, or with `copy` one binary COPY, which the server refuses whole (a unique violation,
    the transaction spoilt) if a row is stored already (app/store/bulk.py); statement-level
    triggers run once per batch; on SQLite one multi-row INSERT … ON CONFLICT DO NOTHING (more
    only past SQLite's limit on parameters), then the batch's new rows added to the analytics roll-ups in
    the same transaction, all in one call in the driver's thread (app/store/batch_sqlite.py).
    The chains and shared exclusions decisions name go in first, once each (those stored are
    skipped; those in `stored_lists`, known to be committed, are not even sent), with `lists`,
    decision lists replayed from the spool on their own lines (app/store/spool_lists.py).
    """
    if not rows and not lists:
        return 0
    if session.get_bind().dialect.name == "sqlite":
        return (await insert_batch(session, {kind: rows}, stored_lists, lists=lists))[kind]
    if kind == "decision":  # the chains and exclusions they name, first (app/store/decision_lists.py)
        await _insert(session, DECISION_LISTS, list_rows(rows, stored_lists, lists), fresh=False)
    return await _insert(session, TABLES[kind], rows, fresh=copy)


async def _insert(session: AsyncSession, table: sa.Table, rows: Sequence[Row], *, fresh: bool) -> int:
    """PostgreSQL. `fresh`: rows most likely not stored yet, worth a COPY that fails if one is."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        raise ValueError(f"unsupported database dialect {dialect.name!r}")
    if fresh:
        return await copy_insert(session, table, rows)
    return await unnest_insert(session, table, rows)


async def insert_health_snapshots(session: AsyncSession, rows: Sequence[Row]) -> int:
    """Store health snapshots synchronously (the writer's `submit_health_snapshots` is preferred)."""
    return await insert_rows(session, "health", rows)


async def get_decision(session: AsyncSession, decision_id: str) -> Decision | None:
    return await session.get(Decision, decision_id)


async def attempts_of(session: AsyncSession, decision_id: str) -> list[Attempt]:
    """A decision's attempts in the order they were made."""
    result = await session.scalars(
        sa.select(Attempt).where(Attempt.decision_id == decision_id).order_by(Attempt.attempt_order)
    )
    return list(result)


async def count_decisions(session: AsyncSession, *, status: str | None = None) -> int:
    stmt = sa.select(sa.func.count()).select_from(Decision)
    if status is not None:
        stmt = stmt.where(Decision.status == status)
    return int(await session.scalar(stmt) or 0)
