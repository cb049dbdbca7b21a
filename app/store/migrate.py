"""Alembic from code: upgrade, downgrade, current revision, and the start-up schema check."""

from __future__ import annotations

import asyncio
import fcntl
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
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.engine import redacted

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
UPGRADE_HINT = "run `llm-router db upgrade` (with the same DATABASE_URL) and start again"


class SchemaOutOfDate(RuntimeError):
    """The database schema is not the one this version of the code needs; start-up stops."""


def alembic_config() -> Config:
    """A Config pointing at the migrations shipped in this package (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def _with_connection(connection: Connection, action: str, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    getattr(command, action)(cfg, revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations up to `revision` in one transaction."""
    async with engine.begin() as conn:
        await conn.run_sync(_with_connection, "upgrade", revision)


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_with_connection, "downgrade", revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision stamped in the database (None if it was never migrated)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def check_current(engine: AsyncEngine, url: str) -> None:
    """Raise SchemaOutOfDate unless the database is exactly at the code's head revision."""
    current = await current_revision(engine)
    head = head_revision()
    if current == head:
        return
    where = redacted(url)
    if current is None:
        raise SchemaOutOfDate(f"the database {where} has no schema yet (code needs revision "
                              f"{head}): {UPGRADE_HINT}")
    script = ScriptDirectory.from_config(alembic_config())
    try:
        known = {rev.revision for rev in script.walk_revisions()}
    except CommandError:
        known = set()
    if current in known:
        raise SchemaOutOfDate(f"the database {where} is at schema revision {current}, older than "
                              f"this version's {head}: {UPGRADE_HINT}")
    raise SchemaOutOfDate(f"the database {where} is at schema revision {current}, which this "
                          f"version does not know (a newer version migrated it?); deploy that "
                          f"version or downgrade the database to {head}")


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
