"""Analytics fixtures: every figure test runs on SQLite and on the real PostgreSQL, isolated."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.analytics import RoutingAnalytics
from app.config.catalog import Catalog
from app.records import AttemptRecord, DecisionRecord
from app.store.engine import create_engine, create_sessionmaker, session_scope
from app.store.repositories import insert_rows
from app.store.rows import attempt_row, decision_row


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
