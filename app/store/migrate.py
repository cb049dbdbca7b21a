"""Alembic from code: upgrade, downgrade, current revision, and the start-up schema check.

Alembic (with Mako, which it imports) costs about 0.3 s and 10 MiB; a service whose database is
already at the code's head never imports it: the head comes from reading the revision files and
the database's revision from `alembic_version` with one SELECT.
"""

from __future__ import annotations

import ast
import asyncio
import fcntl
import importlib
import importlib.util
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store import sqlite_snapshot
from app.store.engine import redacted

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
UPGRADE_HINT = "run `llm-router db upgrade` (with the same DATABASE_URL) and start again"


# Every module that declares tables, and its MetaData (or declarative base): env.py and the
# models-match-migrations test compare the database with exactly these. A subsystem that adds
# tables adds its line here; a module not written yet is skipped.
TABLE_MODULES: dict[str, str] = {
    "app.store.models": "Base",
    "app.tenancy.tables": "Base",
    "app.analytics.tables": "ROLLUP_METADATA",
}


def target_metadata() -> list[MetaData]:
    """The metadata of every table the migrations create."""
    found: list[MetaData] = []
    for module_name, attr in TABLE_MODULES.items():
        if importlib.util.find_spec(module_name) is None:
            continue
        obj = getattr(importlib.import_module(module_name), attr)
        metadata = obj if isinstance(obj, MetaData) else obj.metadata
        if all(metadata is not m for m in found):
            found.append(metadata)
    return found


class SchemaOutOfDate(RuntimeError):
    """The database schema is not the one this version of the code needs; start-up stops."""


def alembic_config() -> Config:
    """A Config pointing at the migrations shipped in this package (no alembic.ini needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


IDENTIFIERS = ("revision", "down_revision")
FIRST_DEF = re.compile(r"^(?:async\s+)?def\s", re.MULTILINE)


def _literals(tree: ast.Module, names: tuple[str, ...]) -> dict[str, Any]:
    """The literals first assigned to these module-level names (annotated or not)."""
    found: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            targets, value = [node.target.id], node.value
        elif isinstance(node, ast.Assign):
            targets, value = [t.id for t in node.targets if isinstance(t, ast.Name)], node.value
        else:
            continue
        for name in targets:
            if name in names and name not in found:
                found[name] = ast.literal_eval(value)
    return found


def _identifiers(path: Path) -> dict[str, Any]:
    """A revision file's `revision` and `down_revision`, parsed from the part before its first
    function, where Alembic's template puts them (a tenth of the whole file's cost, paid at every
    start); from the whole file when they are not all there."""
    source = path.read_text(encoding="utf-8")
    cut = FIRST_DEF.search(source)
    if cut is not None:
        with suppress(SyntaxError):  # the cut fell inside a string
            found = _literals(ast.parse(source[:cut.start()], filename=str(path)), IDENTIFIERS)
            if len(found) == len(IDENTIFIERS):
                return found
    return _literals(ast.parse(source, filename=str(path)), IDENTIFIERS)


@cache
def revision_graph() -> dict[str, tuple[str, ...]]:
    """Each revision in migrations/versions and the revision(s) it follows, read without Alembic."""
    graph: dict[str, tuple[str, ...]] = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        found = _identifiers(path)
        revision, down = found.get("revision"), found.get("down_revision")
        if revision is None:
            continue
        graph[str(revision)] = () if down is None else (down,) if isinstance(down, str) else tuple(down)
    return graph


def head_revisions() -> tuple[str, ...]:
    """The newest revision(s) the code knows (several while branches are not merged)."""
    graph = revision_graph()
    followed = {down for downs in graph.values() for down in downs}
    heads = tuple(sorted(set(graph) - followed))
    if not heads:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return heads


def _with_connection(connection: Connection, action: str, revision: str) -> None:
    from alembic import command

    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    getattr(command, action)(cfg, revision)


async def upgrade(engine: AsyncEngine, revision: str = "heads") -> None:
    """Apply migrations up to `revision` (default: every head) in one transaction."""
    async with engine.begin() as conn:
        await conn.run_sync(_with_connection, "upgrade", revision)


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_with_connection, "downgrade", revision)


def _current(connection: Connection) -> tuple[str, ...]:
    """What Alembic's MigrationContext.get_current_heads() reads, with one query."""
    if not inspect(connection).has_table("alembic_version"):
        return ()
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
    return tuple(sorted(str(r) for r in rows))


async def current_revisions(engine: AsyncEngine) -> tuple[str, ...]:
    """The revision(s) stamped in the database (empty if it was never migrated)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


def describe(revisions: tuple[str, ...]) -> str:
    return ", ".join(revisions) if revisions else "none"


async def check_current(engine: AsyncEngine, url: str) -> None:
    """Raise SchemaOutOfDate unless the database is exactly at the code's head revision(s)."""
    current = await current_revisions(engine)
    heads = head_revisions()
    if current == heads:
        return
    where = redacted(url)
    if not current:
        raise SchemaOutOfDate(f"the database {where} has no schema yet (code needs revision "
                              f"{describe(heads)}): {UPGRADE_HINT}")
    if set(current) <= set(revision_graph()):
        raise SchemaOutOfDate(f"the database {where} is at schema revision {describe(current)}, "
                              f"older than this version's {describe(heads)}: {UPGRADE_HINT}")
    raise SchemaOutOfDate(f"the database {where} is at schema revision {describe(current)}, which "
                          f"this version does not know (a newer version migrated it?); deploy that "
                          f"version or downgrade the database to {describe(heads)}")


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


async def upgrade_locked(engine: AsyncEngine, lock_path: Path) -> None:
    """Upgrade under a file lock, so several workers starting at once migrate only once.

    A database already at the head (every start but the first) is left alone without taking the
    lock or importing Alembic; a new SQLite database is created from the head schema's snapshot
    (app/store/sqlite_snapshot.py) when it is current, again without Alembic.
    """
    heads = head_revisions()
    if await current_revisions(engine) == heads:
        return
    loop = asyncio.get_running_loop()
    lock: Any = _file_lock(lock_path)
    await loop.run_in_executor(None, lock.__enter__)
    try:
        if engine.dialect.name == "sqlite" and await sqlite_snapshot.create_if_empty(engine, heads):
            return
        await upgrade(engine)
    finally:
        lock.__exit__(None, None, None)
