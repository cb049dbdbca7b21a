"""Store fixtures: every store test runs on SQLite and on the real PostgreSQL, each one isolated."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.store.engine import create_engine, create_sessionmaker
from app.store.options import WriterOptions
from app.store.spool import Spool
from app.store.writer import RecordWriter
from tests.store import pgdb


@pytest.fixture
def pg_empty_database() -> Iterator[Callable[[], str]]:
    """Makes fresh, unmigrated PostgreSQL databases (random names), all dropped afterwards."""
    problem = asyncio.run(pgdb.reachable())
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI and unreachable: {problem}")
        pytest.skip(f"PostgreSQL unreachable and CI is not true: {problem}")
    names: list[str] = []

    def make() -> str:
        name = pgdb.unique_name("router_test_empty")
        asyncio.run(pgdb.create_database(name))
        names.append(name)
        return pgdb.sqlalchemy_url(name)

    yield make
    for name in names:
        asyncio.run(pgdb.drop_database(name))


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(db_url)
    yield eng
    await eng.dispose()


def fast_options(**overrides: float | int) -> WriterOptions:
    """Writer options scaled down so tests see batching, spooling and retries quickly."""
    values: dict[str, float | int] = {
        "batch_wait_s": 0.02, "unreachable_s": 0.3, "retry_max_s": 0.2, "write_timeout_s": 5.0,
        "fsync_interval_s": 0.02, "shutdown_flush_s": 5.0,
    }
    values.update(overrides)
    return WriterOptions.model_validate(values)


@pytest.fixture
async def make_writer(tmp_path: Path) -> AsyncIterator[Callable[..., RecordWriter]]:
    """Builds writers on an engine, spooling under tmp_path/spool (closed at teardown if left open)."""
    made: list[RecordWriter] = []

    def make(engine: AsyncEngine, spool_dir: Path | None = None, **overrides: float | int) -> RecordWriter:
        writer = RecordWriter(create_sessionmaker(engine), Spool(spool_dir or tmp_path / "spool"),
                              fast_options(**overrides))
        made.append(writer)
        return writer

    yield make
    for writer in made:
        if not writer.closed:
            await writer.close(0)


async def count_rows(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one())
