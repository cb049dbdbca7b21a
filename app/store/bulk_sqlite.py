"""SQLite batch insert: one multi-row INSERT … VALUES (…), (…) … ON CONFLICT DO NOTHING per table and
batch (run in app/store/batch_sqlite.py).

SQLAlchemy's multi-row VALUES insert renders and binds every cell in Python on the event loop
(tens of microseconds a row, several ms for a batch). Here each value goes through its
column's own bind processor (the same conversion SQLAlchemy applies: exact money as 1e-10 USD
counts, UTC timestamps as text, UUIDs as 32 hex characters, JSON through the engine's
serialiser) into a plain tuple, and the driver binds and steps in C in its own thread.

One statement for the rows, not executemany's one step per row: sqlite3 lets go of the GIL around
every step and must take it back after, and while the event loop is busy each take-back waits up
to the interpreter's switch interval (5 ms). Beside a thread spinning in Python, 100 single-row
steps made 1-2 batches a second, one 100-row statement 40-80 (both ~2,000 with the thread idle;
bench/bench_sqlite_busy.py): under load the writer fell behind and moved the queue to the spool.
"""

from __future__ import annotations

import datetime as dt
import re
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from app.store.rows import Convert, RowTuples
from app.store.types import UtcDateTime, UuidText

Plan = tuple["InsertSql", RowTuples]  # the statement, and how rows become its parameter tuples
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
        sql = InsertSql(f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ", len(names))  # noqa: S608
        plan = plans[table.name] = (sql, RowTuples.of(names, [_converter(c, dialect) for c in table.columns]))
    return plan


MAX_ROWS = 128  # a 500-row batch is 4 statements a table


@dataclass(frozen=True, slots=True)
class InsertSql:
    """A table's INSERT … ON CONFLICT DO NOTHING, for any number of rows of `width` values.

    A statement carries a power of two of rows, the last row repeated to fill it: the copies
    conflict with it and are skipped (no rowid, no count), so what a statement adds is unchanged.
    sqlite3 keeps each distinct statement it ran compiled (128 per connection): 128 statements of
    373 to 500 rows held 125 MiB (~2 KB a row of VALUES), so a statement per batch size grew the
    service by ~70 MiB; by that measure these shapes, up to MAX_ROWS, hold under 1 MiB a table.
    """

    head: str  # "INSERT INTO t (a, b) VALUES "
    width: int

    def statements(self, tuples: Sequence[tuple[Any, ...]], variable_limit: int
                   ) -> Iterator[tuple[str, list[Any]]]:
        """(SQL, parameters) inserting `tuples`: one statement up to MAX_ROWS rows (fewer if
        `variable_limit`, SQLite's cap on bound parameters, allows fewer)."""
        per = min(MAX_ROWS, 1 << ((max(1, variable_limit // self.width)).bit_length() - 1))
        for start in range(0, len(tuples), per):
            chunk = tuples[start:start + per]
            shape = 1 << (len(chunk) - 1).bit_length()
            params = list(chain.from_iterable(chunk))
            params.extend(chunk[-1] * (shape - len(chunk)))
            yield _values_sql(self.head, self.width, shape), params

    def one_row(self) -> str:
        return _values_sql(self.head, self.width, 1)


@lru_cache(maxsize=128)
def _values_sql(head: str, width: int, n: int) -> str:
    row = f"({', '.join('?' * width)})"
    return f"{head}{', '.join([row] * n)} ON CONFLICT DO NOTHING"


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
