"""Analytics fixtures: every figure test runs on SQLite and on the real PostgreSQL, isolated."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.analytics import RoutingAnalytics
from app.analytics.tables import ROLLUP_METADATA
from app.config.catalog import Catalog
from app.records import AttemptRecord, DecisionRecord
from app.store import migrate
from app.store.engine import create_engine, create_sessionmaker, session_scope
from app.store.repositories import insert_rows
from app.store.rows import attempt_row, decision_row

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
TABLES = ["decisions", "attempts", "tenants", "api_keys", *sorted(ROLLUP_METADATA.tables)]


@pytest.fixture(scope="session")
def analytics_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once; each test gets a copy."""
    path = tmp_path_factory.mktemp("analytics-template") / "router.db"

    async def _migrate() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(_migrate())
    return path


async def _truncate(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, analytics_sqlite_template: Path) -> str:
    """A migrated database with no records: a fresh SQLite copy, or the session's PostgreSQL emptied."""
    if request.param == "sqlite":
        path = tmp_path / "db" / "router.db"
        path.parent.mkdir()
        shutil.copy(analytics_sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_url")
    asyncio.run(_truncate(url))
    return url


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(db_url)
    yield eng
    await eng.dispose()


@pytest.fixture
def analytics(engine: AsyncEngine, catalog: Catalog) -> RoutingAnalytics:
    return RoutingAnalytics(create_sessionmaker(engine), catalog=catalog)


async def store(
    engine: AsyncEngine, decisions: Sequence[DecisionRecord], attempts: Sequence[AttemptRecord]
) -> None:
    """Write records the way the store's writer does (insert ignoring duplicates, then commit)."""
    async with session_scope(create_sessionmaker(engine)) as session:
        await insert_rows(session, "decision", [decision_row(d) for d in decisions])
        await insert_rows(session, "attempt", [attempt_row(a) for a in attempts])
