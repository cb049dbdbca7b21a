"""Column types that behave the same on PostgreSQL and SQLite: exact money, UTC times, JSON."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

MONEY_SCALE = 10
_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)


class Money(TypeDecorator[Decimal]):
    """USD as an exact decimal with 10 places.

    PostgreSQL stores NUMERIC(18, 10). SQLite has no exact decimal (NUMERIC affinity turns
    text into a float), so there the value is a BIGINT count of 1e-10 USD; SUM() over it
    stays exact and this type scales the result back.
    """

    impl = sa.Numeric(18, MONEY_SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.Numeric(18, MONEY_SCALE))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        exact = Decimal(value).quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)
        if dialect.name == "sqlite":
            return int(exact.scaleb(MONEY_SCALE))
        return exact

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-MONEY_SCALE)
        return Decimal(value)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on both databases (SQLite keeps no zone, so add it back)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            raise ValueError("naive datetime: give a timezone-aware (UTC) value")
        utc = value.astimezone(dt.UTC)
        # SQLite compares the stored text, so keep one fixed format without an offset.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class UuidText(TypeDecorator[str]):
    """A UUID handled as text in Python: native uuid on PostgreSQL, 32 hex chars on SQLite.

    A malformed value fails on both databases alike: PostgreSQL's driver refuses it, and on
    SQLite (which would store any string) this type checks it.
    """

    impl = sa.Uuid(as_uuid=False)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return str(uuid.UUID(str(value)))


def json_column() -> TypeEngine[Any]:
    """JSON on both databases.

    Not JSONB on PostgreSQL: these columns are written on every request and read rarely, and
    JSON keeps the text as sent (half the insert cost of JSONB for a decision's exclusions)
    while still answering the -> and ->> operators.
    """
    return sa.JSON()
