"""Tenancy fixtures: a migrated database of each backend (SQLite copy, or the session's PostgreSQL
emptied of tenants), its session factory, and tenants made through the admin functions."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.store import migrate
from app.store.engine import create_engine, create_sessionmaker
from app.tenancy import admin, repository
from app.tenancy.principal import TenantPolicy
from app.tenancy.schemas import TenantCreate

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
TABLES = "budget_reservations, budget_usage, api_keys, tenants, decisions, attempts"

Sessions = async_sessionmaker[AsyncSession]
MakeTenant = Callable[..., Awaitable[TenantPolicy]]


@pytest.fixture(scope="session")
def tenancy_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once; each test gets a copy."""
    path = tmp_path_factory.mktemp("tenancy-template") / "router.db"

    async def _migrate() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(_migrate())
    return path


async def truncate(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f"TRUNCATE {TABLES} CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, tenancy_sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "db" / "router.db"
        path.parent.mkdir()
        shutil.copy(tenancy_sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_url")
    asyncio.run(truncate(url))
    return url


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[Sessions]:
    engine = create_engine(db_url, pool_size=10)
    yield create_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def make_tenant(sessions: Sessions) -> MakeTenant:
    """Create a tenant (limits as keyword arguments) and return its request-path policy."""

    async def make(name: str, **limits: Any) -> TenantPolicy:
        await admin.create_tenant(sessions, TenantCreate(name=name, **limits))
        async with sessions() as session:
            tenant = await repository.tenant_by_name(session, name)
        assert tenant is not None
        return repository.policy_of(tenant)

    return make
