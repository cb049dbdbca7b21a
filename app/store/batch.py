"""The writer's unit of work: one batch of records stored in one transaction, committed here."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.store import batch_sqlite
from app.store.decision_lists import LIST_COLUMNS, StoredLists
from app.store.engine import session_scope
from app.store.repositories import insert_batch, sqlite_inserts
from app.store.rows import KINDS, LIST_KIND, Kind, Row, SpoolKind
from app.store.sqlite_exec import Failed
from app.store.sqlite_process import SqliteWriterProcess

UNIQUE_VIOLATION = "23505"
# Rows converted for the SQLite writer process between two returns to the event loop: a 500-row
# batch took ~3 ms of conversion at once (~4 us a row), a stall every request in flight waited out.
CONVERT_CHUNK = 64


async def store_batch(sessions: async_sessionmaker[AsyncSession], rows: Sequence[tuple[SpoolKind, Row]],
                      stored_lists: StoredLists, process: SqliteWriterProcess | None = None) -> None:
    """Store rows of any kinds in one transaction, decisions first (so a reader never sees
    attempts without theirs); once it has committed, remember the decision lists it stored.

    On SQLite the whole batch, roll-ups included, is one call in the driver's thread
    (app/store/batch_sqlite.py). Records go in by COPY on PostgreSQL; if the server refuses it
    because a row is stored already (a replay, a retry of a batch that had committed), the
    transaction is rolled back and the batch runs again with INSERT … ON CONFLICT DO NOTHING,
    which skips those rows. With a SQLite writer `process`, the batch runs there instead
    (app/store/sqlite_process.py), raising the same errors. Rows of LIST_KIND (a spool's
    decision lists) go in with the lists the decisions carry.
    """
    by_kind: dict[Kind, list[Row]] = {kind: [] for kind in KINDS}
    lists: list[Row] = []
    for kind, row in rows:
        if kind == LIST_KIND:
            lists.append(row)
        else:
            by_kind[kind].append(row)
    if process is not None:
        await _store_in_process(process, by_kind, stored_lists, lists)
    else:
        try:
            await _store(sessions, by_kind, stored_lists, lists, copy=True)
        except Exception as exc:
            if getattr(exc, "sqlstate", None) != UNIQUE_VIOLATION:
                raise
            await _store(sessions, by_kind, stored_lists, lists, copy=False)
    stored_lists.add(row[column] for row in by_kind["decision"]
                     for column, _ in LIST_COLUMNS if row.get(column))
    stored_lists.add(row["digest"] for row in lists)


async def _store(sessions: async_sessionmaker[AsyncSession], by_kind: dict[Kind, list[Row]],
                 stored_lists: StoredLists, lists: list[Row], *, copy: bool) -> None:
    async with session_scope(sessions) as session:
        await insert_batch(session, by_kind, stored_lists, copy=copy, lists=lists)


async def _store_in_process(process: SqliteWriterProcess, by_kind: dict[Kind, list[Row]],
                            stored_lists: StoredLists, lists: list[Row]) -> None:
    inserts = sqlite_inserts(process.dialect, by_kind, stored_lists, lists)
    if not inserts:
        return
    try:
        plans = []
        for insert in inserts:
            tuples: list[tuple[Any, ...]] = []
            for start in range(0, len(insert.rows), CONVERT_CHUNK):
                tuples += batch_sqlite.converted(insert, insert.rows[start:start + CONVERT_CHUNK])
                await asyncio.sleep(0)
            plans.append(batch_sqlite.plan(insert, tuples, process.variable_limit))
        await process.run(plans)
    except Failed as exc:
        raise batch_sqlite.translated(exc, process.dialect) from None
