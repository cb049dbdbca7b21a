"""Alembic from code: upgrade, downgrade, current revision, and the start-up schema check."""

from __future__ import annotations

import asyncio
import fcntl
import importlib
import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.engine import redacted

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
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revisions() -> tuple[str, ...]:
    """The newest revision(s) the code knows (several while branches are not merged)."""
    heads = tuple(sorted(ScriptDirectory.from_config(alembic_config()).get_heads()))
    if not heads:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return heads


def _with_connection(connection: Connection, action: str, revision: str) -> None:
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
    return tuple(sorted(MigrationContext.configure(connection).get_current_heads()))


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
    script = ScriptDirectory.from_config(alembic_config())
    try:
        known = {rev.revision for rev in script.walk_revisions()}
    except CommandError:
        known = set()
    if set(current) <= known:
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
    """Upgrade under a file lock, so several workers starting at once migrate only once."""
    loop = asyncio.get_running_loop()
    lock: Any = _file_lock(lock_path)
    await loop.run_in_executor(None, lock.__enter__)
    try:
        await upgrade(engine)
    finally:
        lock.__exit__(None, None, None)
