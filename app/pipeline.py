"""The request pipeline: route -> (execute with fallback) -> record -> observe."""

from __future__ import annotations

from app.context import ServiceContext
from app.routing.schemas import RouteRequest, RoutingDecision


def route(ctx: ServiceContext, request: RouteRequest) -> RoutingDecision:
    """Decide for one request against the live health and keys."""
    return ctx.router.decide(request, keyed=ctx.keyed_providers)
