"""`GET /api/brain/ai-assistant/analytics/health`: every provider's breaker and window figures."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from app.api.deps import ContextDep
from app.api.errors import json_response
from app.errors import ServiceUnavailable

router = APIRouter(prefix="/api/brain/ai-assistant/analytics", tags=["analytics"])

EXAMPLE = {"providers": [
    {"name": "deepseek", "state": "closed", "success_rate": 0.985, "consecutive_failures": 0,
     "mean_latency_ms": 1200.0, "cooldown_until": None, "last_error": None, "requests": 412,
     "ejections": 0, "probe_in_flight": False, "degraded": False},
    {"name": "cohere", "state": "open", "success_rate": 0.4, "consecutive_failures": 0,
     "mean_latency_ms": 1800.0, "cooldown_until": "2025-11-26T07:01:30.120+00:00",
     "last_error": "server_error HTTP 503", "requests": 10, "ejections": 1,
     "probe_in_flight": False, "degraded": False},
]}


@router.get(
    "/health",
    summary="Provider health: circuit state, success rate, latency, cooldown, last error",
    responses={200: {"description": "One entry per provider of the catalog; `cooldown_until` is "
                                    "an ISO 8601 UTC instant while the circuit is open",
                     "content": {"application/json": {"example": EXAMPLE}}}},
)
async def provider_health(ctx: ContextDep) -> Response:
    """What the router sees now: `state` is closed, open or half_open; rates cover the window."""
    if ctx.health is None:
        raise ServiceUnavailable("health tracking is not running")
    return json_response({"providers": ctx.health.status()})
