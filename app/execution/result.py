"""Turns the loop's outcome into the answer: cost, quality, the /execute payload, or the error to raise."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.errors import AllProvidersFailed, ProviderRejectedRequest, RouterError
from app.execution.cost import cost_of
from app.execution.fallback import ChainOutcome
from app.execution.quality import quality_score
from app.providers.base import ChatRequest, Usage
from app.records import AttemptRecord
from app.routing.schemas import RoutingDecision


@dataclass(slots=True)
class ExecutionResult:
    """A completed request: who answered, what it said, every attempt, tokens, cost and quality."""

    decision: RoutingDecision
    provider: str
    model: str
    content: str
    attempts: list[AttemptRecord]
    usage: Usage
    cost_usd: Decimal
    baseline_cost_usd: Decimal
    cost_estimated: bool
    quality_score: float
    latency_ms: float
    finish_reason: str | None = None
    result: Any = None

    @property
    def decision_id(self) -> str:
        return self.decision.decision_id

    def to_dict(self) -> dict[str, Any]:
        """The POST /execute response body (SPEC section 5; field names are public API)."""
        return {
            "decision_id": self.decision.decision_id,
            "provider": self.provider,
            "model": self.model,
            "content": self.content,
            "attempts": [attempt_payload(a) for a in self.attempts],
            "usage": {"input_tokens": self.usage.input_tokens, "output_tokens": self.usage.output_tokens},
            "cost_usd": float(self.cost_usd),
            "baseline_cost_usd": float(self.baseline_cost_usd),
            "cost_estimated": self.cost_estimated,
            "quality_score": self.quality_score,
            "latency_ms": round(self.latency_ms, 3),
        }


def attempt_payload(attempt: AttemptRecord) -> dict[str, Any]:
    return {
        "provider": attempt.provider,
        "model": attempt.model,
        "outcome": attempt.outcome.value,
        "error_class": attempt.error_class,
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
    }


def finish(
    outcome: ChainOutcome, request: ChatRequest | None, *, chars_per_token: float, result: Any = None
) -> ExecutionResult | RouterError:
    """The result, with cost and quality on the winning attempt; or the error the client gets."""
    decision = outcome.decision
    if outcome.winner is None or outcome.completion is None or outcome.winning_attempt is None:
        return failure(outcome)
    cand = outcome.winner.candidate
    completion = outcome.completion
    costing = cost_of(completion, cand, decision, request, chars_per_token=chars_per_token)
    quality = quality_score(completion.content)
    won = outcome.winning_attempt
    won.input_tokens, won.output_tokens = costing.usage.input_tokens, costing.usage.output_tokens
    won.cached_tokens, won.reasoning_tokens = costing.usage.cached_tokens, costing.usage.reasoning_tokens
    won.cost_usd, won.baseline_cost_usd = costing.cost_usd, costing.baseline_cost_usd
    won.cost_estimated, won.quality_score = costing.estimated, quality
    return ExecutionResult(
        decision=decision, provider=cand.provider, model=cand.model, content=completion.content,
        attempts=outcome.attempts, usage=costing.usage, cost_usd=costing.cost_usd,
        baseline_cost_usd=costing.baseline_cost_usd, cost_estimated=costing.estimated,
        quality_score=quality, latency_ms=outcome.latency_ms, finish_reason=completion.finish_reason,
        result=result,
    )


def failure(outcome: ChainOutcome) -> RouterError:
    """ProviderRejectedRequest for a 4xx the request caused, else AllProvidersFailed with every attempt."""
    decision_id = outcome.decision.decision_id
    attempts = [
        {**attempt_payload(a), "message": e.message if e else None}
        for a, e in zip(outcome.attempts, outcome.errors, strict=True)
    ]
    headers = {"x-router-decision-id": decision_id}
    rejected = outcome.rejected
    if rejected is not None:
        last = outcome.attempts[-1]
        return ProviderRejectedRequest(
            f"{last.provider} refused the request: {rejected.message}",
            status_code=rejected.status_code or 400,
            details={"decision_id": decision_id, "provider": last.provider, "model": last.model,
                     "provider_status": rejected.status_code, "provider_code": rejected.provider_code,
                     "reason": rejected.message, "attempts": attempts},
            headers=headers,
        )
    tried = sum(1 for a in outcome.attempts if a.outcome.value != "skipped")
    return AllProvidersFailed(
        f"every provider in the chain failed ({tried} tried, {len(attempts) - tried} skipped)",
        details={"decision_id": decision_id, "attempts": attempts},
        headers=headers,
    )
