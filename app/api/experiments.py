"""`GET …/analytics/experiments`: the catalog's experiments, each arm's outcomes with 95 % intervals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from app.analytics.window import MAX_WINDOW_HOURS, MIN_WINDOW_HOURS
from app.api.analytics import TenantDep
from app.api.deps import ContextDep
from app.api.errors import json_response
from app.errors import ServiceUnavailable
from app.experiments.report import experiments_report

router = APIRouter(prefix="/api/brain/ai-assistant/analytics", tags=["analytics"])


@router.get("/experiments", summary="Compare experiment arms: cost, success, latency, quality, feedback")
async def experiments(ctx: ContextDep, tenant: TenantDep,
                      window_hours: Annotated[int, Query(ge=MIN_WINDOW_HOURS, le=MAX_WINDOW_HOURS)] = 168,
                      ) -> Response:
    """SQL aggregates per arm (a tenant key sees its own decisions only)."""
    if ctx.store is None:
        raise ServiceUnavailable("the store is not open")
    return json_response(await experiments_report(ctx.store.sessions, ctx.catalog,
                                                  window_hours=window_hours, tenant=tenant))
