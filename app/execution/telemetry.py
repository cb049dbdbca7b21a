"""Prometheus updates for executed requests (labels bounded: provider, model, task, outcome)."""

from __future__ import annotations

from functools import cache
from typing import Any

from app import metrics
from app.execution.result import ExecutionResult
from app.records import AttemptRecord, Outcome
from app.routing.schemas import RoutingDecision


@cache
def child(metric: Any, *labels: str) -> Any:
    """A metric's labelled child, looked up once (labels() takes a lock and builds a key each call)."""
    return metric.labels(*labels)


def count_attempt(attempt: AttemptRecord) -> None:
    outcome = attempt.outcome.value
    child(metrics.ATTEMPTS, attempt.provider, attempt.model, attempt.task_type, outcome).inc()
    if attempt.outcome is not Outcome.SKIPPED:
        child(metrics.ATTEMPT_LATENCY, attempt.provider, outcome).observe(attempt.latency_ms / 1000)


def count_request(decision: RoutingDecision, attempts: list[AttemptRecord],
                  result: ExecutionResult | None, outcome: str, latency_ms: float) -> None:
    """One finished request: its outcome, latency, fallbacks, and tokens and cost when it succeeded."""
    task = decision.task_type.value
    child(metrics.REQUESTS, task, decision.strategy.value, outcome).inc()
    child(metrics.REQUEST_LATENCY, task, outcome).observe(latency_ms / 1000)
    called = [a for a in attempts if a.outcome is not Outcome.SKIPPED]
    for failed in called[:-1]:
        child(metrics.FALLBACKS, failed.provider, task).inc()
    if result is None:
        return
    child(metrics.TOKENS, result.provider, result.model, "input").inc(result.usage.input_tokens)
    child(metrics.TOKENS, result.provider, result.model, "output").inc(result.usage.output_tokens)
    child(metrics.COST, result.provider, result.model, task).inc(float(result.cost_usd))
    child(metrics.BASELINE_COST, task).inc(float(result.baseline_cost_usd))
    child(metrics.QUALITY, result.provider).observe(result.quality_score)
