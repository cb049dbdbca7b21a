"""The pipeline of /v1/chat/completions: hints and model -> decision -> admission -> the chain with
fallback (whole answers, or streams up to their first byte) -> record -> observe.

It follows `pipeline.execute` step for step (same decision, admission, fallback loop, costing,
records and metrics), with two differences: a pinned model goes first in the chain, and a
stream's winning attempt is observed and recorded when the stream ends, with its real outcome.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app import metrics, pipeline
from app.execution.bookkeeping import Bookkeeping, Observer
from app.execution.fallback import AttemptObserver, ChainOutcome, execute_chain
from app.execution.invokers import AdapterInvoker
from app.execution.result import ExecutionResult, attempt_payload, failure, finish
from app.execution.telemetry import count_request
from app.openai_compat.hints import Hints, resolve_hints
from app.openai_compat.pinning import Pin, decide_pinned, pinned_entry, resolve_model, task_for_pin
from app.openai_compat.streaming import Concluded, StreamEnd, StreamInvoker, StreamRelay
from app.openai_compat.wire import ChatCompletionRequest, completion_body, completion_id, model_id
from app.pipeline import health_admission
from app.providers.base import ChatRequest, Completion
from app.providers.messages import chat_request
from app.providers.pool import ProviderPool
from app.records import AttemptRecord, DecisionRecord, DecisionStatus, Outcome
from app.routing.schemas import RoutingDecision
from app.tenancy.admission import Admission, admit

if TYPE_CHECKING:
    from app.context import ServiceContext

CLIENT_DISCONNECTED = "client_disconnected"


@dataclass(slots=True)
class Prepared:
    """A request routed and admitted, ready to call."""

    body: ChatCompletionRequest
    hints: Hints
    pin: Pin | None
    decision: RoutingDecision
    admission: Admission
    chat: ChatRequest
    created: int = field(default_factory=lambda: int(time.time()))

    def headers(self) -> dict[str, str]:
        """What the router did, for every answer (the winner's headers are added by the caller)."""
        headers = {
            "x-router-decision-id": self.decision.decision_id,
            "x-router-task": self.decision.task_type.value,
            "x-router-task-source": self.hints.task_source,
            "x-router-budget": self.decision.budget.value,
        }
        ignored = self.body.ignored()
        if ignored:
            headers["x-router-ignored-params"] = ",".join(ignored)
        return headers


async def prepare(ctx: ServiceContext, body: ChatCompletionRequest, headers: Mapping[str, str]) -> Prepared:
    """Check the request, resolve hints and model, decide, and admit it (rate limit, budget)."""
    body.check_supported()
    pin = resolve_model(ctx.catalog, body.model)
    hints = resolve_hints(body, headers)
    if pin is not None:
        task = task_for_pin(pin, hints.task, hints.task_source)
        if task is not hints.task:
            hints = Hints(task, f"{hints.task_source}>pinned", hints.budget, hints.budget_source,
                          hints.region, hints.requires_sla, hints.requires_compliance)
    # Role and content are all chat_request reads (model_dump would copy every message first).
    chat = chat_request(({"role": m.role, "content": m.content} for m in body.messages),
                        max_tokens=body.output_cap, temperature=body.temperature)
    route = hints.route_request(body)
    if pin is None:
        decision = pipeline.decide(ctx, route)
    else:
        decision = decide_pinned(ctx, route, pinned_entry(ctx.router.index, route, pin))
    admission = await admit(ctx, route, decision, deadline_s=ctx.catalog.retries.deadline_s)
    return Prepared(body, hints, pin, admission.decision, admission, chat)


async def complete(ctx: ServiceContext, prep: Prepared) -> tuple[ExecutionResult, Bookkeeping]:
    """The whole answer from the first provider of the chain that gives one, with the bookkeeping
    (health, records, metrics, budget) the caller runs once the answer is sent."""
    observer = Observer(ctx.health)
    try:
        outcome = await _run_chain(ctx, prep, AdapterInvoker(_pool(ctx), prep.chat), observer)
    except BaseException:
        observer.flush()
        raise
    done = finish(outcome, prep.chat, chars_per_token=ctx.catalog.defaults.chars_per_token)
    if isinstance(done, ExecutionResult):
        result = done

        async def bookkeeping() -> None:
            observer.flush()
            _record(ctx, prep, outcome, result, "success")
            await prep.admission.settle(outcome.attempts)

        return result, bookkeeping
    observer.flush()
    await prep.admission.settle(outcome.attempts)
    _record(ctx, prep, outcome, None, "rejected" if outcome.rejected else "failed")
    raise done


def answer(prep: Prepared, result: ExecutionResult) -> dict[str, Any]:
    """The `chat.completion` body; `router` names the winner, the cost and every attempt."""
    return completion_body(
        decision_id=result.decision_id, model=model_id(result.provider, result.model),
        created=prep.created, content=result.content, finish_reason=result.finish_reason,
        usage=result.usage, router={
            "decision_id": result.decision_id, "provider": result.provider, "model": result.model,
            "cost_usd": float(result.cost_usd), "cost_estimated": result.cost_estimated,
            "attempts": [attempt_payload(a) for a in result.attempts],
        })


async def open_stream(ctx: ServiceContext, prep: Prepared) -> StreamRelay:
    """Fall back along the chain until a provider streams its first chunk; the relay serves the rest.

    Raises like `complete` when every provider fails before its first chunk (nothing was sent).
    """
    observe = Observer(ctx.health).observe

    def defer_success(attempt: AttemptRecord, retry_after_s: float | None) -> None:
        if attempt.outcome is not Outcome.SUCCESS:  # the winner is observed when its stream ends
            observe(attempt, retry_after_s)

    invoker = StreamInvoker(_pool(ctx), prep.chat)
    outcome = await _run_chain(ctx, prep, invoker, defer_success)
    opened = invoker.opened
    if outcome.winner is None or opened is None or outcome.winning_attempt is None:
        await prep.admission.settle(outcome.attempts)
        _record(ctx, prep, outcome, None, "rejected" if outcome.rejected else "failed")
        raise failure(outcome)
    cand = outcome.winner.candidate
    metrics.TIME_TO_FIRST_TOKEN.labels(cand.provider).observe(opened.first_token_s)
    won = outcome.winning_attempt
    chars_per_token = ctx.catalog.defaults.chars_per_token

    def conclude(end: StreamEnd) -> Concluded:
        outcome.completion = Completion(content=end.text, usage=end.usage, finish_reason=end.finish_reason)
        outcome.latency_ms = (time.monotonic() - outcome.started) * 1000
        result = finish(outcome, prep.chat, chars_per_token=chars_per_token)
        if not isinstance(result, ExecutionResult):  # unreachable: the chain has a winner
            raise result
        won.latency_ms = round(end.duration_ms, 3)
        label = "success"
        if end.error is not None:
            won.outcome, won.error_class = end.error.outcome, end.error.error_class.value
            won.status_code = end.error.status_code
            label = "failed"
            metrics.STREAMS_BROKEN.labels(cand.provider, end.error.error_class.value).inc()
        elif end.disconnected:
            # The provider did nothing wrong: a success cut short by the client, said so.
            won.error_class, label = CLIENT_DISCONNECTED, "cancelled"
            metrics.STREAMS_BROKEN.labels(cand.provider, CLIENT_DISCONNECTED).inc()
        observe(won, None)
        if prep.admission.tenancy is not None:
            prep.admission.tenancy.spawn(prep.admission.settle(outcome.attempts))
        _record(ctx, prep, outcome, result, label)
        return Concluded(result.usage, {"decision_id": prep.decision.decision_id,
                                        "provider": cand.provider, "model": cand.model,
                                        "cost_usd": float(result.cost_usd),
                                        "cost_estimated": result.cost_estimated})

    idle_s = ctx.catalog.providers[cand.provider].timeouts.stream_idle_s
    relay = StreamRelay(opened, chunk_id=completion_id(prep.decision.decision_id),
                        model=model_id(cand.provider, cand.model), created=prep.created,
                        include_usage=prep.body.include_usage, idle_s=idle_s, conclude=conclude)
    return relay


def _pool(ctx: ServiceContext) -> ProviderPool:
    if ctx.providers is None:
        raise RuntimeError("the provider pool is not open (the lifespan builds it)")
    return ctx.providers


async def _run_chain(ctx: ServiceContext, prep: Prepared, invoker: AdapterInvoker | StreamInvoker,
                     observe: AttemptObserver) -> ChainOutcome:
    try:
        return await execute_chain(prep.decision, invoker, retries=ctx.catalog.retries, observe=observe,
                                   admit=health_admission(ctx, prep.decision))
    except BaseException:
        prep.admission.abandon()
        raise


def _record(ctx: ServiceContext, prep: Prepared, outcome: ChainOutcome, result: ExecutionResult | None,
            label: str) -> None:
    """The decision with its final status and every attempt, to the store and the metrics."""
    won = outcome.winning_attempt
    succeeded = result is not None and won is not None and won.outcome is Outcome.SUCCESS
    record = DecisionRecord.from_decision(
        prep.decision, status=DecisionStatus.SUCCEEDED if succeeded else DecisionStatus.FAILED)
    ctx.recorder.submit_decision(record)
    ctx.recorder.submit_attempts(outcome.attempts)
    count_request(prep.decision, outcome.attempts, result, label, outcome.latency_ms)

