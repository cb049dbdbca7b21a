"""Admin endpoints (the `admin` scope): tenants, budgets, rate limits, API keys and provider key reloads;
and `GET …/tenant` for any key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import Response

from app.api.deps import ContextDep
from app.api.errors import json_response
from app.context import ServiceContext
from app.errors import BadRequest, ServiceUnavailable
from app.tenancy import admin
from app.tenancy.principal import ANONYMOUS, Principal
from app.tenancy.provider_keys import provider_key_status, reload_provider_keys
from app.tenancy.schemas import TENANT_NAME, KeyCreate, TenantCreate, TenantLimits
from app.tenancy.service import Tenancy

router = APIRouter(prefix="/api/brain/ai-assistant/admin", tags=["admin"])
me_router = APIRouter(prefix="/api/brain/ai-assistant", tags=["tenancy"])

TenantName = Annotated[str, Path(pattern=TENANT_NAME, description="The tenant's name")]
KeyIdent = Annotated[str, Path(pattern=r"^[0-9a-fA-F-]{12,36}$", description="The key's id or prefix")]
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No key, or an unknown or revoked key"},
    403: {"description": "The key lacks the `admin` scope"},
}


def _open(ctx: ServiceContext) -> tuple[Tenancy, async_sessionmaker[AsyncSession]]:
    if ctx.tenancy is None or ctx.tenancy.sessions is None:
        raise ServiceUnavailable("tenancy needs the store, which is not open", headers={"retry-after": "1"})
    return ctx.tenancy, ctx.tenancy.sessions


@router.post("/tenants", status_code=201, summary="Create a tenant with its budgets and rate limits",
             responses={409: {"description": "A tenant with this name exists"}, **ADMIN_ERRORS})
async def create_tenant(body: TenantCreate, ctx: ContextDep) -> Response:
    _, sessions = _open(ctx)
    return json_response(await admin.create_tenant(sessions, body), 201)


@router.get("/tenants", summary="List tenants", responses=ADMIN_ERRORS)
async def list_tenants(ctx: ContextDep) -> Response:
    _, sessions = _open(ctx)
    return json_response({"tenants": await admin.list_tenants(sessions)})


@router.get("/tenants/{name}", summary="A tenant's settings and its spend today and this month",
            responses={404: {"description": "No such tenant"}, **ADMIN_ERRORS})
async def get_tenant(name: TenantName, ctx: ContextDep) -> Response:
    tenancy, sessions = _open(ctx)
    return json_response(await admin.get_tenant(sessions, name, tenancy.budgets))


@router.patch("/tenants/{name}", summary="Change a tenant's budgets, rate limits or options",
              responses={404: {"description": "No such tenant"}, **ADMIN_ERRORS})
async def update_tenant(name: TenantName, body: TenantLimits, ctx: ContextDep) -> Response:
    tenancy, sessions = _open(ctx)
    tenant_id, payload = await admin.update_tenant(sessions, name, body)
    tenancy.forget_tenant(tenant_id, name)
    return json_response(payload)


@router.post("/tenants/{name}/keys", status_code=201,
             summary="Create an API key for a tenant (the key is in this answer only)",
             responses={404: {"description": "No such tenant"}, **ADMIN_ERRORS})
async def create_key(name: TenantName, body: KeyCreate, ctx: ContextDep) -> Response:
    tenancy, sessions = _open(ctx)
    plaintext, key = await admin.create_key(sessions, tenancy.options.pepper, name,
                                            scopes=body.scopes, name=body.name)
    return json_response({"key": plaintext, **key}, 201)


@router.get("/keys", summary="List API keys (prefixes and scopes, never the keys)",
            responses={404: {"description": "No such tenant"}, **ADMIN_ERRORS})
async def list_keys(
    ctx: ContextDep,
    tenant: Annotated[str | None, Query(pattern=TENANT_NAME, description="Only this tenant's keys")] = None,
) -> Response:
    _, sessions = _open(ctx)
    return json_response({"keys": await admin.list_keys(sessions, tenant)})


@router.delete("/keys/{key}", summary="Revoke an API key by id or prefix",
               responses={404: {"description": "No such key"}, **ADMIN_ERRORS})
async def revoke_key(key: KeyIdent, ctx: ContextDep) -> Response:
    tenancy, sessions = _open(ctx)
    revoked = await admin.revoke_key(sessions, key)
    tenancy.authenticator.forget(revoked["id"])
    return json_response(revoked)


@me_router.get("/tenant", summary="The caller's tenant: its limits and its spend today and this month")
async def my_tenant(request: Request, ctx: ContextDep) -> Response:
    principal: Principal = getattr(request.state, "principal", ANONYMOUS)
    body: dict[str, Any] = {"kind": principal.kind.value,
                            "scopes": sorted(s.value for s in principal.scopes), "tenant": None}
    if principal.tenant is not None and ctx.tenancy is not None and ctx.tenancy.sessions is not None:
        body["tenant"] = await admin.get_tenant(ctx.tenancy.sessions, principal.tenant.name,
                                                ctx.tenancy.budgets)
        body["key_prefix"] = principal.key_prefix
    return json_response(body)


@router.get("/provider-keys", summary="Provider keys by fingerprint: usable, refused or resting",
            responses=ADMIN_ERRORS)
async def provider_keys(ctx: ContextDep) -> Response:
    return json_response(provider_key_status(ctx))


@router.post("/provider-keys/reload", summary="Re-read provider keys (as SIGHUP does), without a restart",
             responses={400: {"description": "The secrets file cannot be read"}, **ADMIN_ERRORS})
async def reload_keys(ctx: ContextDep) -> Response:
    try:
        return json_response(reload_provider_keys(ctx))
    except (OSError, ValueError) as exc:
        raise BadRequest(f"provider keys not reloaded: {exc}") from None
