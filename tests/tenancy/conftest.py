"""Tenancy fixtures: a migrated database of each backend (SQLite copy, or the session's PostgreSQL
emptied of tenants), its session factory, and tenants made through the admin functions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.store.engine import create_engine, create_sessionmaker
from app.tenancy import admin, repository
from app.tenancy.principal import TenantPolicy
from app.tenancy.schemas import TenantCreate

Sessions = async_sessionmaker[AsyncSession]
MakeTenant = Callable[..., Awaitable[TenantPolicy]]


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
