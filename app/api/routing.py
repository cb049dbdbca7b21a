"""`POST /api/brain/ai-assistant/route` and `GET /api/brain/ai-assistant/providers`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app import pipeline
from app.api.body import json_body, parse_body
from app.api.deps import ContextDep, context_of
from app.api.errors import json_response
from app.config.catalog import Catalog
from app.routing.schemas import RouteRequest

router = APIRouter(prefix="/api/brain/ai-assistant", tags=["routing"])

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"description": "Invalid input, or `no_eligible_provider` with every exclusion reason"},
    413: {"description": "Body over the size cap"},
}


@router.post(
    "/route",
    summary="Choose the provider and model for one request",
    openapi_extra=json_body(RouteRequest),
    responses={
        200: {"description": "The decision: primary, chain, costs, quality, exclusions",
              "content": {"application/json": {"example": {
                  "decision_id": "0193f0c2-7d1e-7c3a-9a51-1c2b3d4e5f60",
                  "primary_provider": "deepseek", "primary_model": "deepseek-chat",
                  "fallback_providers": ["openrouter", "mistral"],
                  "chain": [{"provider": "deepseek", "model": "deepseek-chat",
                             "region": "global", "context_window": 64000,
                             "blended_price": 0.69, "expected_quality": 7.8,
                             "estimated_cost_usd": 0.00162}],
                  "routing_strategy": "cost_optimized",
                  "estimated_cost": {"estimated_cost_usd": 0.00162,
                                     "estimated_cost_per_million_tokens": 0.69,
                                     "baseline_cost_usd": 0.05,
                                     "estimated_savings_percent": 96.8},
                  "expected_quality": {"score": 7.8, "scale": 10},
                  "excluded": [{"provider": "openai", "model": "gpt-4", "region": "us",
                                "reason": "budget", "detail": "blended price over ceiling"}],
                  "reasons": ["deepseek/deepseek-chat (global) scored 0.725 ..."]}}}},
        **ERROR_RESPONSES,
    },
)
async def route_request(request: Request) -> Response:
    """Route a request by task, budget, context size, region, SLA and compliance."""
    body = await parse_body(request, RouteRequest)
    return json_response(pipeline.route(context_of(request), body))


def providers_payload(catalog: Catalog, keyed: frozenset[str]) -> dict[str, Any]:
    """The catalog as the public contract lists it; a model appears once per region."""
    providers = []
    for name, spec in catalog.providers.items():
        models = []
        for model in spec.models:
            for dep in spec.all_deployments():
                if model.deployments is not None and dep.name not in model.deployments:
                    continue
                models.append({
                    "name": model.name,
                    "region": dep.region.value,
                    "deployment": dep.name,
                    "input_price": float(model.input_price),
                    "output_price": float(model.output_price),
                    "blended_price": round(float(model.blended_price), 4),
                    "prices_checked": model.prices_checked.isoformat(),
                    "context_window": model.context_window,
                    "capabilities": sorted(t.value for t in model.capabilities),
                    "quality": {t.value: q for t, q in sorted(model.quality.items())},
                })
        providers.append({
            "name": name,
            "protocol": spec.protocol.value,
            "region": spec.region.value,
            "compliance": sorted(spec.compliance),
            "sla": spec.sla,
            "self_hostable": spec.self_hostable,
            "configured": name in keyed,
            "models": models,
        })
    tiers = {
        tier.value: {
            "max_blended_price": None if t.max_blended_price is None else float(t.max_blended_price),
            "strategy": t.strategy.value,
            "preferred_providers": list(t.preferred_providers),
            "savings_target_percent": t.savings_target_percent,
        }
        for tier, t in catalog.budget_tiers.items()
    }
    return {"providers": providers, "budget_tiers": tiers}


@router.get("/providers", summary="The catalog: providers, models, prices and budget tiers")
async def list_providers(ctx: ContextDep) -> Response:
    """Every provider with its models (once per region), prices, windows and quality."""
    return json_response(providers_payload(ctx.catalog, ctx.keyed_providers))
