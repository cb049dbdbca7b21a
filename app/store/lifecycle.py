"""Opening and closing the store with the service: engine, schema check, writer, spool."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config.settings import Settings
from app.records import DiscardingSink, RecordSink
from app.store import migrate
from app.store.engine import create_engine, create_sessionmaker, database_url, redacted
from app.store.options import WriterOptions
from app.store.spool import Spool
from app.store.sqlite_process import SqliteWriterProcess
from app.store.writer import RecordWriter

log = logging.getLogger(__name__)

SPOOL_DIR = "spool"
MIGRATE_LOCK = ".migrate.lock"


@dataclass
class Store:
    """The database of one service process and the writer that feeds it."""

    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    writer: RecordWriter
    recorder: RecordSink

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def close(self, deadline_s: float | None = None) -> bool:
        """Flush the writer against the deadline (spooling the rest), then dispose the engine."""
        try:
            return await self.writer.close(deadline_s)
        finally:
            await self.engine.dispose()


async def open_store(settings: Settings, options: WriterOptions | None = None) -> Store:
    """Build the engine, bring SQLite up to date or check PostgreSQL, start the writer.

    Raises migrate.SchemaOutOfDate when a PostgreSQL schema is not at the code's revision: the
    service must not start and write into tables it does not understand.
    """
    url = database_url(settings)
    engine = create_engine(url)
    data_dir = Path(settings.data_dir)
    try:
        if engine.dialect.name == "sqlite":
            await migrate.upgrade_locked(engine, data_dir / MIGRATE_LOCK)
        else:
            await migrate.check_current(engine, url)
    except BaseException:
        await engine.dispose()
        raise
    sessions = create_sessionmaker(engine)
    options = options or WriterOptions()
    writer = RecordWriter(sessions, Spool(data_dir / SPOOL_DIR), options,
                          sqlite_writer_process(engine, options))
    await writer.start()
    log.info("store: %s (recording %s)", redacted(url), "on" if settings.record_decisions else "off")
    recorder: RecordSink = writer if settings.record_decisions else DiscardingSink()
    return Store(url=url, engine=engine, sessions=sessions, writer=writer, recorder=recorder)


def sqlite_writer_process(engine: AsyncEngine, options: WriterOptions) -> SqliteWriterProcess | None:
    """A writer process for a SQLite file when the options allow one (never for :memory:)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not options.sqlite_process or database in (None, "", ":memory:"):
        return None
    return SqliteWriterProcess(str(Path(database).resolve()), engine.dialect)
