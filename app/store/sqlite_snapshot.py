"""A new SQLite database created from a snapshot of the head schema, as Rails' schema load does.

Alembic's upgrade of an empty SQLite file imports Alembic and Mako and replays every migration:
~0.3 s of a first start here, before the port opens. The migrations stay the one source of the
schema: `sqlite_head.sql` is what they leave in `sqlite_master` (tables, indexes, in creation
order) with the revision they reach, written by `llm-router db snapshot`. The service's start-up
uses it only for a database with no schema object at all, and only when the snapshot's revision
is the code's head; anything else (a database part-way, a snapshot behind a new migration) goes
through Alembic as before. tests/store/test_sqlite_snapshot.py fails when the snapshot and the
migrations disagree, and says to run the command.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

SNAPSHOT_PATH = Path(__file__).resolve().parent / "migrations" / "sqlite_head.sql"
REVISION_PREFIX = "-- revision: "
SEPARATOR = ";\n\n"
# Every schema object but SQLite's own (sqlite_sequence, autoindexes), in the order it was made.
OBJECTS = text("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' "
               "ESCAPE '\\' ORDER BY rowid")


def dump(connection: Connection, revisions: Sequence[str]) -> str:
    """The snapshot of the database behind `connection`, stamped with `revisions`."""
    statements = [str(sql) for sql in connection.execute(OBJECTS).scalars()]
    return f"{REVISION_PREFIX}{','.join(revisions)}\n\n" + SEPARATOR.join(statements) + ";\n"


def parse(snapshot: str) -> tuple[tuple[str, ...], list[str]]:
    """(revisions, statements) of a snapshot; ValueError if it has no revision line."""
    first, _, rest = snapshot.partition("\n")
    if not first.startswith(REVISION_PREFIX):
        raise ValueError(f"a SQLite schema snapshot starts with {REVISION_PREFIX!r}")
    revisions = tuple(sorted(r for r in first[len(REVISION_PREFIX):].split(",") if r))
    statements = [s.strip().removesuffix(";") for s in rest.split(SEPARATOR) if s.strip()]
    return revisions, statements


def read(path: Path = SNAPSHOT_PATH) -> tuple[tuple[str, ...], list[str]] | None:
    """The shipped snapshot, or None when it is missing or unreadable (Alembic does the work)."""
    try:
        return parse(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _create_if_empty(connection: Connection, revisions: tuple[str, ...], statements: list[str]) -> bool:
    # sqlite3 opens no transaction for DDL on its own: this one makes a failure leave the file
    # empty, and taking the write lock first keeps the emptiness check true until the commit.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
    if connection.execute(text("SELECT count(*) FROM sqlite_master")).scalar_one():
        return False
    for statement in statements:  # alembic_version among them, as Alembic made it
        connection.exec_driver_sql(statement)
    for revision in revisions:
        connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:r)"), {"r": revision})
    return True


async def create_if_empty(engine: AsyncEngine, heads: tuple[str, ...], path: Path = SNAPSHOT_PATH) -> bool:
    """Create the head schema from the snapshot in one transaction if the database has no schema
    object yet and the snapshot is at `heads`; whether it did (a statement that fails rolls it
    all back, and Alembic does the work instead)."""
    found = read(path)
    if found is None or found[0] != tuple(sorted(heads)):
        return False
    try:
        async with engine.begin() as conn:
            created: bool = await conn.run_sync(_create_if_empty, *found)
    except SQLAlchemyError as exc:
        log.warning("the SQLite schema snapshot %s failed (%s); migrating with Alembic instead", path, exc)
        return False
    return created
