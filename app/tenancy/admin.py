"""Tenant and key administration, shared by the admin API and `llm-router keys`.

A key's plaintext exists only in the value `create_key` returns: it is shown once and stored
as its hash. Revoking a key or changing a tenant evicts this replica's cache at once; other
replicas follow within the authentication cache TTL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.errors import NotFound, RouterError
from app.records import utcnow
from app.store.engine import session_scope
from app.store.models import ApiKey, Tenant
from app.tenancy import apikeys, repository
from app.tenancy.budgets import Budgets
from app.tenancy.principal import Scope
from app.tenancy.schemas import TenantCreate, TenantLimits


class Conflict(RouterError):
    status_code = 409
    code = "conflict"


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _usd(value: Any) -> float | None:
    return None if value is None else float(value)


def tenant_payload(t: Tenant) -> dict[str, Any]:
    return {
        "id": t.id, "name": t.name, "default_budget": t.default_budget,
        "daily_soft_limit_usd": _usd(t.daily_soft_limit_usd),
        "daily_hard_limit_usd": _usd(t.daily_hard_limit_usd),
        "monthly_soft_limit_usd": _usd(t.monthly_soft_limit_usd),
        "monthly_hard_limit_usd": _usd(t.monthly_hard_limit_usd),
        "downgrade_on_budget": t.downgrade_on_budget, "store_prompts": t.store_prompts,
        "rate_limit_rpm": t.rate_limit_rpm, "rate_limit_tpm": t.rate_limit_tpm,
        "created_at": _iso(t.created_at),
    }


def key_payload(k: ApiKey, tenant: str) -> dict[str, Any]:
    """A key as listed: never its hash, never its plaintext."""
    return {
        "id": k.id, "tenant": tenant, "prefix": k.prefix, "name": k.name, "scopes": list(k.scopes),
        "created_at": _iso(k.created_at), "revoked_at": _iso(k.revoked_at),
        "last_used_at": _iso(k.last_used_at),
    }


def _fields(limits: TenantLimits) -> dict[str, Any]:
    """The fields the caller sent (an explicit null clears a limit)."""
    out = {name: getattr(limits, name) for name in limits.model_fields_set if name != "name"}
    if "default_budget" in out:
        if out["default_budget"] is None:
            del out["default_budget"]
        else:
            out["default_budget"] = out["default_budget"].value
    for flag in ("downgrade_on_budget", "store_prompts"):
        if flag in out and out[flag] is None:
            del out[flag]
    return out


async def _tenant(session: AsyncSession, name: str) -> Tenant:
    tenant = await repository.tenant_by_name(session, name)
    if tenant is None:
        raise NotFound(f"no tenant named {name!r}", details={"tenant": name})
    return tenant


async def create_tenant(sessions: async_sessionmaker[AsyncSession], data: TenantCreate) -> dict[str, Any]:
    try:
        async with session_scope(sessions) as session:
            if await repository.tenant_by_name(session, data.name) is not None:
                raise Conflict(f"tenant {data.name!r} exists", details={"tenant": data.name})
            tenant = await repository.add_tenant(session, data.name, _fields(data))
    except IntegrityError:
        raise Conflict(f"tenant {data.name!r} exists", details={"tenant": data.name}) from None
    return tenant_payload(tenant)


async def update_tenant(sessions: async_sessionmaker[AsyncSession], name: str,
                        data: TenantLimits) -> tuple[str, dict[str, Any]]:
    """The tenant's id (to evict caches) and its new settings."""
    async with session_scope(sessions) as session:
        tenant = await repository.update_tenant(session, await _tenant(session, name), _fields(data))
    return tenant.id, tenant_payload(tenant)


async def list_tenants(sessions: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
    async with sessions() as session:
        return [tenant_payload(t) for t in await repository.list_tenants(session)]


async def get_tenant(sessions: async_sessionmaker[AsyncSession], name: str,
                     budgets: Budgets | None) -> dict[str, Any]:
    """A tenant's settings and, from the store, its spend in the current day and month."""
    async with sessions() as session:
        tenant = await _tenant(session, name)
    payload = tenant_payload(tenant)
    if budgets is not None:
        status = await budgets.status(repository.policy_of(tenant))
        payload["budget"] = {label: s.to_dict() for label, s in status.items()}
    return payload


async def create_key(sessions: async_sessionmaker[AsyncSession], pepper: bytes, tenant: str, *,
                     scopes: Iterable[Scope], name: str | None = None,
                     create_tenant: bool = False) -> tuple[str, dict[str, Any]]:
    """A new key for `tenant`: (plaintext, shown once; its listing entry)."""
    new = apikeys.generate(pepper)
    async with session_scope(sessions) as session:
        row = await repository.tenant_by_name(session, tenant)
        if row is None:
            if not create_tenant:
                raise NotFound(f"no tenant named {tenant!r}", details={"tenant": tenant})
            row = await repository.add_tenant(session, tenant, {})
        key = await repository.add_key(session, row.id, prefix=new.prefix, key_hash=new.key_hash,
                                       name=name, scopes=(s.value for s in scopes))
    return new.plaintext, key_payload(key, tenant)


async def list_keys(sessions: async_sessionmaker[AsyncSession],
                    tenant: str | None = None) -> list[dict[str, Any]]:
    async with sessions() as session:
        tenant_id = (await _tenant(session, tenant)).id if tenant is not None else None
        return [key_payload(k, n) for k, n in await repository.list_keys(session, tenant_id)]


async def revoke_key(sessions: async_sessionmaker[AsyncSession], ident: str) -> dict[str, Any]:
    """Revoke a key by id or prefix (idempotent: revoking twice keeps the first time)."""
    async with session_scope(sessions) as session:
        found = await repository.key_by_id_or_prefix(session, ident)
        if found is None:
            raise NotFound(f"no API key with id or prefix {ident!r}", details={"key": ident})
        key, tenant = found
        await repository.revoke(session, key, utcnow())
    return key_payload(key, tenant)
