"""The request pipeline: route -> (execute with fallback) -> record -> observe."""

from __future__ import annotations

from uuid6 import uuid7

from app.context import ServiceContext
from app.errors import NoEligibleProvider
from app.records import DecisionRecord
from app.routing.schemas import RouteRequest, RoutingDecision
from app.tenancy.admission import bind_tenant


def route(ctx: ServiceContext, request: RouteRequest) -> RoutingDecision:
    """Decide for one request against the live health and keys, and record the decision.

    A 422 no_eligible_provider is recorded too (status rejected, with every exclusion) and its
    `details.decision_id` names the record. Recording never waits on the database.
    """
    bind_tenant(request)  # with authentication on, the tenant is the key's, whatever the body says
    decision_id = str(uuid7())
    try:
        decision = ctx.router.decide(request, keyed=ctx.keyed_providers, decision_id=decision_id)
    except NoEligibleProvider as exc:
        exc.details["decision_id"] = decision_id
        ctx.recorder.submit_decision(DecisionRecord.rejected(
            decision_id, exc.details, tenant=request.tenant, user=request.user,
        ))
        raise
    ctx.recorder.submit_decision(DecisionRecord.from_decision(decision))
    return decision
