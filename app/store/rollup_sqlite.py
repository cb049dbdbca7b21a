"""SQLite analytics roll-ups, added by the writer once per batch (revision 0004 dropped the triggers).

A per-row trigger ran two to four UPSERTs for every record, about a quarter of the writer's work.
Instead, after a batch's INSERT … ON CONFLICT DO NOTHING, one grouped INSERT … SELECT … ON
CONFLICT DO UPDATE per roll-up table adds the batch's new rows, in the same transaction, so a
record and its roll-up commit together. Which rows are new: the transaction holds the database's
write lock from its first insert, and SQLite gives each new row the next rowid (skipped rows take
none), so the rows this batch added are the `added` rowids ending at `last_insert_rowid()`. A
replayed record that ON CONFLICT skips is in none of them and never counts twice. They run right
after their table's insert, in the batch's one call in the driver's thread (app/store/batch_sqlite.py).

The definitions come from app/analytics/spec.py, as the PostgreSQL triggers' do (frozen there).
"""

from __future__ import annotations

from functools import cache

BUCKET = {
    "hourly": "substr(s.created_at, 1, 13) || ':00:00.000000'",
    "daily": "substr(s.created_at, 1, 10) || ' 00:00:00.000000'",
}


@cache
def rollup_statements(source: str) -> tuple[str, ...]:
    """The UPSERTs of the roll-up tables fed by `source`, over rowids `? < rowid <= ?`.

    A family with the latency histogram gets two per grain: its other measures as before, then
    its 66 histogram counts from the batch grouped by (keys, bucket index) and pivoted, so each
    row finds its bucket once (bisecting the edges) instead of running 66 range tests, and the
    pivot runs over the few groups (attempts' roll-ups: 13.9 -> 7.5 us of SQLite per row). The
    second always updates the rows the first just made (its inserts would add zeros); counts
    are integers, so the result is the same to the unit.
    """
    # Imported here: app.analytics imports the store.
    from app.analytics.spec import CALLED, FAMILIES, GRAINS, HIST_COLUMNS, HIST_EDGES

    bucket_index = _first_edge_above(HIST_EDGES, 0, len(HIST_EDGES))
    # Names and expressions are the spec's constants; the rowid bounds are parameters.
    statements = []
    for family in FAMILIES:
        if family.source != source:
            continue
        plain = [m for m in family.measures if m.name not in HIST_COLUMNS]
        for grain in GRAINS:
            table = family.table(grain)
            keys = ["bucket", *(d[0] for d in family.dims)]
            select = [BUCKET[grain], *(d[1].format(r="s") for d in family.dims)]
            where = " AND " + family.where.format(r="s") if family.where else ""
            group = ", ".join(str(i + 1) for i in range(len(keys)))
            measures = [f"{m.combine}({m.expr.format(r='s')})" for m in plain]
            statements.append(_upsert(
                table, keys, {m.name: m.combine for m in plain},
                f"SELECT {', '.join([*select, *measures])} "  # noqa: S608
                f"FROM {source} s WHERE s.rowid > ? AND s.rowid <= ?{where} GROUP BY {group}"))
            if len(plain) == len(family.measures):
                continue
            named = ", ".join(f"{e} AS {key}" for e, key in zip(select, keys, strict=True))
            key_cols = ", ".join(f"b.{key}" for key in keys)
            counts = ", ".join(f"sum(CASE WHEN b.k = {k} THEN b.n ELSE 0 END)"
                               for k in range(len(HIST_COLUMNS)))
            statements.append(_upsert(
                table, keys, dict.fromkeys(HIST_COLUMNS, "sum"),
                f"SELECT {key_cols}, {counts} FROM (SELECT {named}, {bucket_index} AS k, count(*) AS n "  # noqa: S608
                f"FROM {source} s WHERE s.rowid > ? AND s.rowid <= ?{where} AND {CALLED.format(r='s')} "
                f"GROUP BY {group}, {len(keys) + 1}) b GROUP BY {key_cols}"))
    return tuple(statements)


def _first_edge_above(edges: tuple[float, ...], low: int, high: int) -> str:
    """The bucket of `s.latency_ms` known to be in buckets low..high: the index of the first edge
    above it (len(edges) if none), by bisection, so a row takes ~7 comparisons, not up to 65."""
    if low == high:
        return str(low)
    mid = (low + high) // 2
    return (f"CASE WHEN s.latency_ms < {edges[mid]!r} THEN {_first_edge_above(edges, low, mid)} "
            f"ELSE {_first_edge_above(edges, mid + 1, high)} END")


def _upsert(table: str, keys: list[str], combine: dict[str, str], select: str) -> str:
    sets = ", ".join(f"{c} = max({table}.{c}, excluded.{c})" if how == "max"
                     else f"{c} = {table}.{c} + excluded.{c}" for c, how in combine.items())
    return (f"INSERT INTO {table} ({', '.join([*keys, *combine])}) {select} "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}")
