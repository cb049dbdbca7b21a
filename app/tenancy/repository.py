"""Tenant and API-key queries. Repositories flush, never commit: the caller's scope commits."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils import uuid7

from app.records import utcnow
from app.store.models import ApiKey, Tenant
from app.tenancy.principal import TenantPolicy


def policy_of(tenant: Tenant) -> TenantPolicy:
    """The request path's view of a tenant row."""
    return TenantPolicy(
        id=tenant.id, name=tenant.name, default_budget=tenant.default_budget,
        daily_soft_limit_usd=tenant.daily_soft_limit_usd, daily_hard_limit_usd=tenant.daily_hard_limit_usd,
        monthly_soft_limit_usd=tenant.monthly_soft_limit_usd,
        monthly_hard_limit_usd=tenant.monthly_hard_limit_usd,
        downgrade_on_budget=tenant.downgrade_on_budget, store_prompts=tenant.store_prompts,
        rate_limit_rpm=tenant.rate_limit_rpm, rate_limit_tpm=tenant.rate_limit_tpm,
    )


async def key_with_tenant(session: AsyncSession, prefix: str) -> tuple[ApiKey, Tenant] | None:
    """The key stored under this lookup prefix and its tenant (revoked keys included)."""
    row = (await session.execute(
        sa.select(ApiKey, Tenant).join(Tenant, Tenant.id == ApiKey.tenant_id).where(ApiKey.prefix == prefix)
    )).first()
    return None if row is None else (row[0], row[1])


async def touch_key(session: AsyncSession, key_id: str, now: dt.datetime) -> None:
    await session.execute(sa.update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))


async def tenant_by_name(session: AsyncSession, name: str) -> Tenant | None:
    return (await session.scalars(sa.select(Tenant).where(Tenant.name == name))).first()


async def list_tenants(session: AsyncSession) -> list[Tenant]:
    return list(await session.scalars(sa.select(Tenant).order_by(Tenant.name)))


async def add_tenant(session: AsyncSession, name: str, fields: dict[str, Any]) -> Tenant:
    tenant = Tenant(id=str(uuid7()), name=name, created_at=utcnow(), **{
        "default_budget": "medium", "downgrade_on_budget": False, "store_prompts": False, **fields})
    session.add(tenant)
    await session.flush()
    return tenant


async def update_tenant(session: AsyncSession, tenant: Tenant, fields: dict[str, Any]) -> Tenant:
    for name, value in fields.items():
        setattr(tenant, name, value)
    await session.flush()
    return tenant


async def add_key(session: AsyncSession, tenant_id: str, *, prefix: str, key_hash: str, name: str | None,
                  scopes: Iterable[str]) -> ApiKey:
    key = ApiKey(id=str(uuid7()), tenant_id=tenant_id, prefix=prefix, key_hash=key_hash, name=name,
                 scopes=sorted(scopes), created_at=utcnow())
    session.add(key)
    await session.flush()
    return key


async def list_keys(session: AsyncSession, tenant_id: str | None = None) -> list[tuple[ApiKey, str]]:
    """Keys with their tenant's name, newest first (never their hashes to callers: see admin.py)."""
    stmt = sa.select(ApiKey, Tenant.name).join(Tenant, Tenant.id == ApiKey.tenant_id)
    if tenant_id is not None:
        stmt = stmt.where(ApiKey.tenant_id == tenant_id)
    rows = await session.execute(stmt.order_by(ApiKey.created_at.desc()))
    return [(k, n) for k, n in rows.all()]


async def key_by_id_or_prefix(session: AsyncSession, ident: str) -> tuple[ApiKey, str] | None:
    """A key by its id or its lookup prefix, with its tenant's name."""
    stmt = sa.select(ApiKey, Tenant.name).join(Tenant, Tenant.id == ApiKey.tenant_id)
    cond = ApiKey.prefix == ident
    if _is_uuid(ident):
        cond = sa.or_(cond, ApiKey.id == ident)
    row = (await session.execute(stmt.where(cond))).first()
    return None if row is None else (row[0], row[1])


async def revoke(session: AsyncSession, key: ApiKey, now: dt.datetime) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = now
        await session.flush()
    return key


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
