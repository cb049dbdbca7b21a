"""The request pipeline: route -> (execute with fallback) -> record -> observe."""

from __future__ import annotations

import time
from typing import Any

from uuid_utils import uuid7

from app.context import ServiceContext
from app.errors import NoEligibleProvider
from app.execution.bookkeeping import Bookkeeping, Observer
from app.execution.fallback import Admitter, ChainOutcome, execute_chain
from app.execution.invokers import AdapterInvoker
from app.execution.result import ExecutionResult, finish
from app.execution.schemas import ExecuteRequest
from app.execution.telemetry import child, count_request
from app.metrics import DECISION_LATENCY
from app.providers.messages import chat_request
from app.records import DecisionRecord, DecisionStatus
from app.routing.explain import decision_payload, excluded_payload
from app.routing.schemas import RouteRequest, RoutingDecision
from app.tenancy.admission import admit, bind_tenant


def route(ctx: ServiceContext, request: RouteRequest) -> dict[str, Any]:
    """Decide for one request against the live health and keys, record the decision, and return
    the response of POST /route (its `excluded` list is built once, for record and response).

    A 422 no_eligible_provider is recorded too (status rejected, with every exclusion) and its
    `details.decision_id` names the record. Recording never waits on the database.
    """
    decision = decide(ctx, request)
    excluded = excluded_payload(decision)
    ctx.recorder.submit_decision(DecisionRecord.from_decision(decision, excluded=excluded))
    return decision_payload(decision, excluded)


def decide(ctx: ServiceContext, request: RouteRequest) -> RoutingDecision:
    """The decision, unrecorded; a 422 no_eligible_provider is recorded here as rejected."""
    bind_tenant(request)  # with authentication on, the tenant is the key's, whatever the body says
    decision_id = str(uuid7())
    started = time.perf_counter()
    # The experiment arm, quality target and prompt difficulty, computed before the pure engine.
    policy = ctx.policy.resolve(request, decision_id) if ctx.policy is not None else None
    try:
        decision = ctx.router.decide(
            request, keyed=ctx.keyed_providers, decision_id=decision_id,
            health=ctx.health.snapshot() if ctx.health is not None else None,
            index=policy.index if policy else None,
            quality_target=policy.quality_target if policy else None,
            strong_win_rate=policy.strong_win_rate if policy else None)
        if policy is not None and policy.variant is not None:
            decision.extra["variant"] = policy.variant
    except NoEligibleProvider as exc:
        exc.details["decision_id"] = decision_id
        ctx.recorder.submit_decision(DecisionRecord.rejected(
            decision_id, exc.details, tenant=request.tenant, user=request.user,
        ))
        raise
    child(DECISION_LATENCY, decision.strategy).observe(time.perf_counter() - started)
    return decision


def health_admission(ctx: ServiceContext, decision: RoutingDecision) -> Admitter | None:
    """The breaker's admission for this decision's attempts (panic mode admits open ones)."""
    health = ctx.health
    if health is None:
        return None

    async def admit_provider(provider: str) -> bool:
        return await health.admit(provider, panic=decision.panic)

    return admit_provider


async def execute(ctx: ServiceContext, request: ExecuteRequest) -> ExecutionResult:
    """Route, call the chain with fallback, record the decision and every attempt, update metrics.

    Everything is done when it returns; `execute_answer_first` leaves a success's bookkeeping
    to the caller, to run once the answer is sent.
    """
    result, bookkeeping = await execute_answer_first(ctx, request)
    await bookkeeping()
    return result


async def execute_answer_first(ctx: ServiceContext, request: ExecuteRequest
                               ) -> tuple[ExecutionResult, Bookkeeping]:
    """`execute`, with a success's health observation, records, metrics and budget settlement
    returned as bookkeeping for the caller to run (app/execution/bookkeeping.py).

    Raises ProviderRejectedRequest (a 4xx the request caused) or AllProvidersFailed (502); both
    are recorded first. Health sees each failed attempt as it ends, so concurrent requests learn
    at once.
    """
    # Role and content are all chat_request reads (model_dump would copy every message first).
    chat = chat_request(({"role": m.role, "content": m.content} for m in request.messages or ()),
                        prompt=request.prompt, max_tokens=request.max_tokens,
                        temperature=request.temperature)
    decision = decide(ctx, request)
    # The tenant's tokens per minute (429) and budget (402: the estimate is held until settled).
    deadline_s = request.deadline_s or ctx.catalog.retries.deadline_s
    admission = await admit(ctx, request, decision, deadline_s=deadline_s)
    decision = admission.decision
    observer = Observer(ctx.health)
    if ctx.providers is None:
        raise RuntimeError("the provider pool is not open (the lifespan builds it)")
    try:
        outcome = await execute_chain(decision, AdapterInvoker(ctx.providers, chat),
                                      retries=ctx.catalog.retries, deadline_s=request.deadline_s,
                                      observe=observer, admit=health_admission(ctx, decision))
    except BaseException:
        observer.flush()
        admission.abandon()
        raise
    done = finish(outcome, chat, chars_per_token=ctx.catalog.defaults.chars_per_token)
    if isinstance(done, ExecutionResult):
        result = done

        async def bookkeeping() -> None:
            observer.flush()
            record_execution(ctx, decision, outcome, result, "success")
            await admission.settle(outcome.attempts)

        return result, bookkeeping
    observer.flush()
    await admission.settle(outcome.attempts)
    record_execution(ctx, decision, outcome, None, "rejected" if outcome.rejected else "failed")
    raise done


def record_execution(ctx: ServiceContext, decision: RoutingDecision, outcome: ChainOutcome,
                     result: ExecutionResult | None, label: str) -> None:
    """The decision with its final status and every attempt, to the store and the metrics."""
    ctx.recorder.submit_decision(DecisionRecord.from_decision(
        decision, status=DecisionStatus.SUCCEEDED if result is not None else DecisionStatus.FAILED))
    ctx.recorder.submit_attempts(outcome.attempts)
    count_request(decision, outcome.attempts, result, label, outcome.latency_ms)
