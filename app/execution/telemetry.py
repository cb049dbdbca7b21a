"""Prometheus updates for executed requests (labels bounded: provider, model, task, outcome)."""

from __future__ import annotations

from app import metrics
from app.execution.result import ExecutionResult
from app.records import AttemptRecord, Outcome
from app.routing.schemas import RoutingDecision


def count_attempt(attempt: AttemptRecord) -> None:
    outcome = attempt.outcome.value
    metrics.ATTEMPTS.labels(attempt.provider, attempt.model, attempt.task_type, outcome).inc()
    if attempt.outcome is not Outcome.SKIPPED:
        metrics.ATTEMPT_LATENCY.labels(attempt.provider, outcome).observe(attempt.latency_ms / 1000)


def count_request(decision: RoutingDecision, attempts: list[AttemptRecord],
                  result: ExecutionResult | None, outcome: str, latency_ms: float) -> None:
    """One finished request: its outcome, latency, fallbacks, and tokens and cost when it succeeded."""
    task = decision.task_type.value
    metrics.REQUESTS.labels(task, decision.strategy.value, outcome).inc()
    metrics.REQUEST_LATENCY.labels(task, outcome).observe(latency_ms / 1000)
    called = [a for a in attempts if a.outcome is not Outcome.SKIPPED]
    for failed in called[:-1]:
        metrics.FALLBACKS.labels(failed.provider, task).inc()
    if result is None:
        return
    metrics.TOKENS.labels(result.provider, result.model, "input").inc(result.usage.input_tokens)
    metrics.TOKENS.labels(result.provider, result.model, "output").inc(result.usage.output_tokens)
    metrics.COST.labels(result.provider, result.model, task).inc(float(result.cost_usd))
    metrics.BASELINE_COST.labels(task).inc(float(result.baseline_cost_usd))
    metrics.QUALITY.labels(result.provider).observe(result.quality_score)
