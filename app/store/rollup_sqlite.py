"""SQLite analytics roll-ups, added by the writer once per batch (revision 0004 dropped the triggers).

A per-row trigger ran two to four UPSERTs for every record, about a quarter of the writer's work.
Instead, after a batch's INSERT … ON CONFLICT DO NOTHING, one grouped INSERT … SELECT … ON
CONFLICT DO UPDATE per roll-up table adds the batch's new rows, in the same transaction, so a
record and its roll-up commit together. Which rows are new: the transaction holds the database's
write lock from its first insert, and SQLite gives each new row the next rowid (skipped rows take
none), so the rows this batch added are the `added` rowids ending at `last_insert_rowid()`. A
replayed record that ON CONFLICT skips is in none of them and never counts twice.

The definitions come from app/analytics/spec.py, as the PostgreSQL triggers' do (frozen there).
"""

from __future__ import annotations

from functools import cache

from sqlalchemy.ext.asyncio import AsyncConnection

BUCKET = {
    "hourly": "substr(s.created_at, 1, 13) || ':00:00.000000'",
    "daily": "substr(s.created_at, 1, 10) || ' 00:00:00.000000'",
}


@cache
def rollup_statements(source: str) -> tuple[str, ...]:
    """One UPSERT per roll-up table fed by `source`, over rowids `? < rowid <= ?`."""
    # Imported here: app.analytics imports the store.
    from app.analytics.spec import FAMILIES, GRAINS

    statements = []
    for family in FAMILIES:
        if family.source != source:
            continue
        for grain in GRAINS:
            table = family.table(grain)
            keys = ["bucket", *(d[0] for d in family.dims)]
            cols = [*keys, *(m.name for m in family.measures)]
            select = [BUCKET[grain], *(d[1].format(r="s") for d in family.dims),
                      *(f"{m.combine}({m.expr.format(r='s')})" for m in family.measures)]
            where = " AND " + family.where.format(r="s") if family.where else ""
            group = ", ".join(str(i + 1) for i in range(len(keys)))
            sets = ", ".join(
                f"{m.name} = max({table}.{m.name}, excluded.{m.name})" if m.combine == "max"
                else f"{m.name} = {table}.{m.name} + excluded.{m.name}"
                for m in family.measures
            )
            # Names and expressions are the spec's constants; the rowid bounds are parameters.
            statements.append(
                f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(select)} "  # noqa: S608
                f"FROM {source} s WHERE s.rowid > ? AND s.rowid <= ?{where} "
                f"GROUP BY {group} ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
            )
    return tuple(statements)


async def roll_up(connection: AsyncConnection, source: str, added: int) -> None:
    """Add the `added` rows just inserted into `source` (by this transaction, on this connection)
    to its roll-up tables. Call it right after the inserts, before any other INSERT."""
    statements = rollup_statements(source)
    if added <= 0 or not statements:
        return
    last = int((await connection.exec_driver_sql("SELECT last_insert_rowid()")).scalar_one())
    bounds = (last - added, last)
    for sql in statements:
        await connection.exec_driver_sql(sql, bounds)
