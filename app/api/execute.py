"""`POST /api/brain/ai-assistant/execute`: route, call the chain with fallback, answer with the completion."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from app import pipeline
from app.api.answer import AnsweredResponse
from app.api.body import json_body, parse_body
from app.api.deps import context_of
from app.execution.schemas import ExecuteRequest

router = APIRouter(prefix="/api/brain/ai-assistant", tags=["execution"])

EXAMPLE = {
    "decision_id": "0193f0c2-7d1e-7c3a-9a51-1c2b3d4e5f60", "provider": "mistral",
    "model": "mistral-small-latest", "content": "A circuit breaker stops calls to a failing provider ...",
    "attempts": [
        {"provider": "deepseek", "model": "deepseek-chat", "outcome": "error", "error_class": "server_error",
         "status_code": 500, "latency_ms": 41.2},
        {"provider": "mistral", "model": "mistral-small-latest", "outcome": "success", "error_class": None,
         "status_code": None, "latency_ms": 380.5},
    ],
    "usage": {"input_tokens": 24, "output_tokens": 118}, "cost_usd": 0.0001063,
    "baseline_cost_usd": 0.00284, "cost_estimated": False, "quality_score": 3.4, "latency_ms": 425.9,
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The completion, who answered, every attempt, tokens, cost and quality",
          "content": {"application/json": {"example": EXAMPLE}}},
    400: {"description": "`provider_rejected_request`: the provider refused the request itself "
                         "(also 404, 413 or 422 with the provider's status); not retried elsewhere"},
    413: {"description": "Body over the size cap"},
    422: {"description": "Invalid input, or `no_eligible_provider` with every exclusion reason"},
    502: {"description": "`all_providers_failed`: `details.attempts` lists every provider tried and why"},
}


@router.post("/execute", summary="Route a request and run it with automatic fallback",
             openapi_extra=json_body(ExecuteRequest), responses=RESPONSES)
async def execute_request(request: Request) -> Response:
    """Run `messages` or `prompt` on the best provider for the constraints, falling back along the chain."""
    body = await parse_body(request, ExecuteRequest)
    result, bookkeeping = await pipeline.execute_answer_first(context_of(request), body)
    return AnsweredResponse(result.to_dict(), {
        "x-router-decision-id": result.decision_id,
        "x-router-provider": result.provider,
        "x-router-model": result.model,
    }, bookkeeping)
