"""One aggregate statement over a window: raw edges and roll-up pieces, UNION ALL, then GROUP BY.

Every figure the endpoints report comes out of a statement built here, so the database does the
summing; Python only formats the few grouped rows that come back.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import sqlalchemy as sa

from app.analytics.spec import Family
from app.analytics.tables import ROLLUPS, SOURCES, column_type
from app.analytics.window import Source, Window, cover
from app.store.types import UtcDateTime

Granularity = Literal["hour", "day"]
Filters = Mapping[str, str | bool | None]


def truncate(dialect: str, column: sa.ColumnElement[Any], unit: Granularity) -> sa.ColumnElement[Any]:
    """`column` (a UTC timestamp) truncated to the hour or day, the same way on both databases."""
    if dialect == "postgresql":
        return sa.type_coerce(sa.func.date_trunc(unit, column, "UTC"), UtcDateTime)
    width, tail = (13, ":00:00.000000") if unit == "hour" else (10, " 00:00:00.000000")
    return sa.type_coerce(sa.func.substr(column, 1, width) + sa.literal(tail), UtcDateTime)


def raw_filters(table: sa.Table, filters: Filters) -> list[sa.ColumnElement[bool]]:
    """Filters on a raw table, values inline ('' means NULL: no tenant)."""
    out: list[sa.ColumnElement[bool]] = []
    for name, value in filters.items():
        column = table.c[name]
        out.append(column.is_(None) if value == "" else column == value)
    return out


def _raw_conditions(table: sa.Table, names: tuple[tuple[str, bool], ...]) -> list[sa.ColumnElement[bool]]:
    out: list[sa.ColumnElement[bool]] = []
    for name, is_null in names:
        column = table.c[name]
        out.append(column.is_(None) if is_null else column == sa.bindparam(f"f_{name}", type_=column.type))
    return out


def _raw_select(
    family: Family, index: int, dims: tuple[str, ...], measures: tuple[str, ...],
    filters: tuple[tuple[str, bool], ...], series: Granularity | None, dialect: str,
) -> sa.Select[Any]:
    table = SOURCES[family.source]
    name = table.name
    dim_exprs = {col: (expr, kind) for col, expr, kind in family.dims}
    by_name = {m.name: m for m in family.measures}
    cols: list[sa.ColumnElement[Any]] = []
    if series is not None:
        cols.append(truncate(dialect, table.c.created_at, series).label("t"))
    for d in dims:
        expr, kind = dim_exprs[d]
        cols.append(sa.literal_column(expr.format(r=name), column_type(kind)).label(d))
    for m in measures:
        spec = by_name[m]
        cols.append(sa.literal_column(spec.expr.format(r=name), column_type(spec.kind)).label(m))
    conds = [table.c.created_at >= sa.bindparam(f"s{index}", type_=UtcDateTime),
             table.c.created_at < sa.bindparam(f"e{index}", type_=UtcDateTime),
             *_raw_conditions(table, filters)]
    if family.where:
        conds.append(sa.literal_column(family.where.format(r=name), sa.Boolean()))
    return sa.select(*cols).where(*conds)


def _rollup_select(
    family: Family, index: int, source: Source, dims: tuple[str, ...], measures: tuple[str, ...],
    filters: tuple[tuple[str, bool], ...], series: Granularity | None, dialect: str,
) -> sa.Select[Any]:
    table = ROLLUPS[(family.name, source)]
    cols: list[sa.ColumnElement[Any]] = []
    if series is not None:
        bucket: sa.ColumnElement[Any] = table.c.bucket
        if series == "day" and source == "hourly":
            bucket = truncate(dialect, table.c.bucket, "day")
        cols.append(bucket.label("t"))
    cols.extend(table.c[d].label(d) for d in dims)
    cols.extend(table.c[m].label(m) for m in measures)
    conds = [table.c.bucket >= sa.bindparam(f"s{index}", type_=UtcDateTime),
             table.c.bucket < sa.bindparam(f"e{index}", type_=UtcDateTime)]
    conds.extend(table.c[name] == sa.bindparam(f"r_{name}", type_=table.c[name].type)
                 for name, _null in filters)
    return sa.select(*cols).where(*conds)


@functools.lru_cache(maxsize=512)
def _statement(
    family: Family, sources: tuple[Source, ...], dims: tuple[str, ...], measures: tuple[str, ...],
    filters: tuple[tuple[str, bool], ...], series: Granularity | None, dialect: str,
) -> sa.Select[Any]:
    """The statement for one shape of question; values come as bind parameters, so it is built
    and compiled once and reused (building ~80 columns per piece costs more than running it)."""
    selects = []
    for i, source in enumerate(sources):
        if source == "raw":
            selects.append(_raw_select(family, i, dims, measures, filters, series, dialect))
        else:
            selects.append(_rollup_select(family, i, source, dims, measures, filters, series, dialect))
    src = (selects[0] if len(selects) == 1 else sa.union_all(*selects)).subquery("src")
    combine = {m.name: m.combine for m in family.measures}
    keys = (["t"] if series is not None else []) + list(dims)
    outer: list[sa.ColumnElement[Any]] = [src.c[k] for k in keys]
    for m in measures:
        fn = sa.func.max if combine[m] == "max" else sa.func.sum
        outer.append(fn(src.c[m]).label(m))
    stmt = sa.select(*outer)
    if keys:
        stmt = stmt.group_by(*(src.c[k] for k in keys)).order_by(*(src.c[k] for k in keys))
    return stmt


def aggregate(
    family: Family,
    window: Window,
    *,
    dialect: str,
    dims: Sequence[str] = (),
    measures: Sequence[str],
    filters: Filters | None = None,
    series: Granularity | None = None,
) -> tuple[sa.Select[Any], dict[str, Any]]:
    """SELECT [t,] dims, SUM/MAX(measures) over the window, grouped by [t,] dims, and its parameters.

    `filters` maps a dimension to the value it must have ('' means no tenant); `series` adds a
    time column `t` truncated to the hour or day (an hourly series never reads daily roll-ups).
    Run it as `session.execute(*aggregate(...))`.
    """
    values = {k: v for k, v in (filters or {}).items() if v is not None}
    coarsest: Source = "hourly" if series == "hour" else "daily"
    pieces = cover(window, coarsest=coarsest)
    shape = tuple(sorted((name, value == "") for name, value in values.items()))
    stmt = _statement(family, tuple(p.source for p in pieces), tuple(dims), tuple(measures), shape,
                      series, dialect)
    params: dict[str, Any] = {}
    for i, piece in enumerate(pieces):
        params[f"s{i}"], params[f"e{i}"] = piece.start, piece.end
    for name, value in values.items():
        params[f"r_{name}"] = value
        if value != "":
            params[f"f_{name}"] = value
    return stmt, params
