"""SQLite batch insert: one prepared INSERT … ON CONFLICT DO NOTHING run over the batch (executemany,
in app/store/batch_sqlite.py).

SQLAlchemy's multi-row VALUES insert renders and binds every cell in Python on the event loop
(tens of microseconds a row, several ms for a batch). Here each value goes through its
column's own bind processor (the same conversion SQLAlchemy applies: exact money as 1e-10 USD
counts, UTC timestamps as text, UUIDs as 32 hex characters, JSON through the engine's
serialiser) into a plain tuple, and the driver binds and steps in C in its own thread.
"""

from __future__ import annotations

import datetime as dt
import re
import weakref
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from app.store.rows import Convert, RowTuples
from app.store.types import UtcDateTime, UuidText

Plan = tuple[str, RowTuples]  # the statement, and how rows become its parameter tuples
# Per engine's dialect (its JSON serialiser is the engine's), per table.
_plans: weakref.WeakKeyDictionary[Dialect, dict[str, Plan]] = weakref.WeakKeyDictionary()


def sqlite_plan(table: sa.Table, dialect: Dialect) -> Plan:
    """The table's INSERT … ON CONFLICT DO NOTHING, and how rows become its parameter tuples (a
    missing column is NULL)."""
    plans = _plans.setdefault(dialect, {})
    plan = plans.get(table.name)
    if plan is None:
        names = tuple(c.name for c in table.columns)
        # Only our own table and column names go into the text; every value is a bound parameter.
        sql = (f"INSERT INTO {table.name} ({', '.join(names)}) "  # noqa: S608
               f"VALUES ({', '.join('?' for _ in names)}) ON CONFLICT DO NOTHING")
        plan = plans[table.name] = (sql, RowTuples.of(names, [_converter(c, dialect) for c in table.columns]))
    return plan


CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _converter(column: sa.Column[Any], dialect: Dialect) -> Convert | None:
    """The column's bind processor, with a shortcut for the values the records always carry
    (canonical lowercase UUIDs, UTC datetimes) giving the processor's exact output."""
    processor: Convert | None = column.type.dialect_impl(dialect).bind_processor(dialect)
    if processor is None:
        return None
    general = processor
    if isinstance(column.type, UuidText):
        def uuid_hex(value: Any) -> Any:
            if value.__class__ is str and CANONICAL_UUID.fullmatch(value):
                return value.replace("-", "")
            return general(value)
        return uuid_hex
    if isinstance(column.type, UtcDateTime):
        def utc_text(value: Any) -> Any:
            if value.__class__ is dt.datetime and value.tzinfo is dt.UTC:
                return value.replace(tzinfo=None).isoformat(" ", "microseconds")
            return general(value)
        return utc_text
    return processor
