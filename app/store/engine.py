"""The async engine and session factory, one code path for SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.config.settings import Settings
from app.store.sqlite_exec import PRAGMAS

SQLITE_FILE = "router.db"


def database_url(settings: Settings) -> str:
    """DATABASE_URL if set, else a SQLite file in the data directory."""
    if "database_url" in settings.model_fields_set:
        return settings.database_url
    return f"sqlite+aiosqlite:///{Path(settings.data_dir).resolve() / SQLITE_FILE}"


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    for pragma in PRAGMAS:  # the writer process's connection gets the same (app/store/sqlite_exec.py)
        cursor.execute(pragma)
    cursor.close()


def create_engine(url: str, *, pool_size: int = 5) -> AsyncEngine:
    """An async engine for either database; SQLite files get their directory created."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        # A dead or black-holed server must fail a statement, not hang the writer forever.
        connect_args={"timeout": 5, "command_timeout": 30},
        **kwargs,
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_scope(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """The edge of a unit of work: commit if the block succeeds, roll back if it raises."""
    async with sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
