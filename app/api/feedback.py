"""`POST …/feedback` (a rating of one decision's answer) and `GET …/analytics/quality` (the
learned quality estimates with the observations behind them). Thin: parse, call, answer."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.api.deps import ContextDep
from app.api.errors import json_response
from app.errors import ServiceUnavailable
from app.feedback.service import FeedbackRequest, record_feedback

API = "/api/brain/ai-assistant"
router = APIRouter(prefix=API, tags=["feedback"])


@router.post("/feedback", status_code=201, summary="Rate the answer of one decision",
             responses={404: {"description": "No such decision (or not the caller's tenant's)"}})
async def give_feedback(ctx: ContextDep, request: Request, body: FeedbackRequest) -> Response:
    """`score` 0-10 or `thumbs` up/down; it moves that model's quality estimate for the task."""
    if ctx.store is None:
        raise ServiceUnavailable("the store is not open")
    principal = getattr(request.state, "principal", None)
    restricted = bool(getattr(principal, "restricted", False))
    tenant = getattr(principal, "tenant_name", None) if restricted else None
    out = await record_feedback(ctx.store, body, tenant=tenant, restricted=restricted)
    return json_response(out, status_code=201)


@router.get("/analytics/quality", summary="Learned quality per provider, model and task")
async def quality(ctx: ContextDep) -> Response:
    """The catalog's prior, the estimate routing uses and how many observations back it."""
    if ctx.quality is None:
        raise ServiceUnavailable("quality estimates are not running")
    if ctx.quality.refreshed_at is None:
        await ctx.quality.refresh()
    learning = ctx.catalog.quality_learning
    return json_response({
        "refreshed_at": ctx.quality.refreshed_at,
        "method": {"formula": "(prior*k + wh*sum(heuristic) + wf*sum(feedback)) / "
                              "(k + wh*n_heuristic + wf*n_feedback)",
                   "k": learning.prior_weight, "wh": learning.heuristic_weight,
                   "wf": learning.feedback_weight, "window_days": learning.window_days},
        "estimates": [e.to_dict() for e in ctx.quality.table.estimates],
    })
