"""Liveness and readiness probes (no key needed)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from app.api.deps import ContextDep
from app.api.errors import json_response

router = APIRouter(tags=["system"])


@router.get("/health", summary="Liveness: the process answers")
async def health() -> Response:
    return json_response({"status": "ok"})


@router.get("/ready", summary="Readiness: the catalog is loaded and the service takes requests")
async def ready(ctx: ContextDep) -> Response:
    return json_response({"status": "ready", "providers": len(ctx.catalog.providers)})
