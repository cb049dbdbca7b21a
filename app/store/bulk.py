"""PostgreSQL batch insert: binary COPY, or one array of the table's own row type.

The writer's record batches go in by binary COPY (`copy_insert`), the server's cheapest insert;
a batch holding a row already stored (a replay, a retried batch that had committed, a reused
idempotency key) is refused whole and runs again, and rows that are often stored already
(decision lists) always go, through `unnest_insert`:

    INSERT INTO t SELECT * FROM unnest($1::t[]) ON CONFLICT DO NOTHING

Either way each row travels as one tuple in the order of the table's columns on the server (read
once per engine from the catalog: a column added by a later migration comes last there, whatever
the model says), encoded by asyncpg in C with each column's binary codec; one array per column
instead made the driver check every cell for a nested array (a third of the service's CPU per
row). Statement-level triggers run once per batch. Values get the same treatment the column
types give them elsewhere: money quantized to 10 places, timestamps required to be
timezone-aware, JSON serialised with orjson.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from app.store.rows import Convert, RowTuples
from app.store.types import MONEY_SCALE, Money, UtcDateTime

_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)

# Per engine (its dialect object), per table: the column order differs between databases.
_plans: weakref.WeakKeyDictionary[Dialect, dict[str, Plan]] = weakref.WeakKeyDictionary()

COLUMN_ORDER = sa.text(
    "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:table AS regclass) "
    "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
)


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)


def _aware(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValueError(f"naive datetime: give a timezone-aware (UTC) value, not {value!r}")
    return value


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _converter(column: sa.Column[Any]) -> Convert | None:
    """What a value of this column goes through before the driver's codec (None: nothing)."""
    if isinstance(column.type, Money):
        return _money
    if isinstance(column.type, UtcDateTime):
        return _aware
    if isinstance(column.type, sa.JSON):
        return _json
    return None


@dataclass(frozen=True, slots=True)
class Plan:
    """A table's upsert statement and how its rows become records in the server's column order."""

    upsert: sa.TextClause
    records: RowTuples


async def _plan(session: AsyncSession, table: sa.Table) -> Plan:
    dialect = session.get_bind().dialect
    plans = _plans.setdefault(dialect, {})
    plan = plans.get(table.name)
    if plan is None:
        order = (await session.execute(COLUMN_ORDER, {"table": table.name})).scalars().all()
        if sorted(order) != sorted(c.name for c in table.columns):
            raise RuntimeError(f"table {table.name} on the server has columns {sorted(order)}, "
                               f"the code expects {sorted(c.name for c in table.columns)}: "
                               "run `llm-router db upgrade`")
        # Only our own table name goes into the text; the rows are one bound value.
        # The count of new rows comes back as one number, not one row per id.
        sql = sa.text(
            f"WITH added AS (INSERT INTO {table.name} "  # noqa: S608
            f"SELECT * FROM unnest(CAST(:rows AS {table.name}[])) "
            "ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) FROM added"
        )
        plan = plans[table.name] = Plan(sql, RowTuples.of(order, [_converter(table.c[n]) for n in order]))
    return plan


async def unnest_insert(session: AsyncSession, table: sa.Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert these rows (a missing key is NULL), skipping conflicts; how many were new."""
    plan = await _plan(session, table)
    return int((await session.execute(plan.upsert, {"rows": plan.records(rows)})).scalar_one())


async def copy_insert(session: AsyncSession, table: sa.Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert rows that are most likely all new by binary COPY, the server's cheapest insert (its
    rows go into the table a page at a time). If one is already stored (a replay, a retried batch
    that had committed, a reused idempotency key) the server refuses the whole COPY with a unique
    violation (SQLSTATE 23505) and the transaction is spoilt: the caller runs it again with
    `unnest_insert`, which skips the stored rows (app/store/batch.py). How many were new.
    """
    import asyncpg  # the driver of every PostgreSQL engine here; imported when one is used

    plan = await _plan(session, table)
    records = plan.records(rows)
    connection = await (await session.connection()).get_raw_connection()
    driver: asyncpg.Connection = connection.driver_connection
    await driver.copy_records_to_table(table.name, records=records, columns=plan.records.names)
    return len(records)
