"""A SQLite batch as plain statements, and running them over a sqlite3 connection.

Both the driver's thread (app/store/batch_sqlite.py) and the writer process
(app/store/sqlite_worker.py) run a batch through `execute`. Standard library only: the writer
process imports this and nothing heavier.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

LAST_ROWID = "SELECT last_insert_rowid()"
# Every connection to a record database, the service's and the writer process's: WAL lets readers
# (analytics) run while a writer commits; busy_timeout rides out the short lock another process
# (a worker, the writer process) holds during its commit.
PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=10000",
           "PRAGMA foreign_keys=ON")


class Plan(NamedTuple):
    """One table's share of a batch: its INSERT statements with their parameters, then its
    roll-ups over the rows they added; `name` is the statement an error names (one row's
    INSERT, not thousands of "?")."""

    name: str
    statements: list[tuple[str, list[Any]]]
    rollups: tuple[str, ...]


class Failed(Exception):
    """A statement of the batch failed (or converting its rows did): the error, and which one."""

    def __init__(self, statement: str | None, error: BaseException) -> None:
        super().__init__(statement)
        self.statement, self.error = statement, error


def execute(connection: Any, plans: Sequence[Plan]) -> list[int]:
    """Each plan's inserts in order, then its roll-ups over the rows they added; how many rows
    each plan added. The rows an insert added are the `added` rowids ending at
    last_insert_rowid() (app/store/rollup_sqlite.py says why). Raises Failed."""
    statement: str | None = None
    counts = []
    try:
        cursor = connection.cursor()
        try:
            for plan in plans:
                added = 0
                statement = plan.name
                for sql, params in plan.statements:
                    cursor.execute(sql, params)
                    added += int(cursor.rowcount)
                if added > 0 and plan.rollups:
                    statement = LAST_ROWID
                    cursor.execute(LAST_ROWID)
                    last = int(cursor.fetchone()[0])
                    for statement in plan.rollups:
                        cursor.execute(statement, (last - added, last))
                counts.append(added)
        finally:
            cursor.close()
    except Exception as exc:
        raise Failed(statement, exc) from exc
    return counts
