"""The records every request leaves behind, and the ports that carry them between subsystems.

The pipeline builds these plain dataclasses; the store persists them (write-behind, never
lost); health and metrics observe attempts. Nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from app.routing.schemas import ProviderHealth


class DecisionStatus(StrEnum):
    ROUTED = "routed"          # /route answered with a chain
    REJECTED = "rejected"      # 422 no_eligible_provider
    SUCCEEDED = "succeeded"    # executed, a provider answered
    FAILED = "failed"          # executed, every provider failed (502) or the request was refused


class Outcome(StrEnum):
    """An attempt's outcome (public API: `attempts[].outcome`)."""

    SUCCESS = "success"
    ERROR = "error"
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    SKIPPED = "skipped"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(slots=True)
class DecisionRecord:
    """One routing decision: the request's constraints, the chain and why others were left out."""

    id: str
    task_type: str
    budget: str
    region: str
    requires_sla: bool
    requires_compliance: bool
    input_tokens: int
    output_tokens: int
    status: DecisionStatus
    strategy: str | None = None
    primary_provider: str | None = None
    primary_model: str | None = None
    chain: list[dict[str, Any]] = field(default_factory=list)
    excluded: list[dict[str, Any]] = field(default_factory=list)
    estimated_cost_usd: Decimal | None = None
    baseline_cost_usd: Decimal | None = None
    tenant: str | None = None
    user: str | None = None
    idempotency_key: str | None = None
    variant: str | None = None
    created_at: dt.datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class AttemptRecord:
    """One call to one provider within a decision (an executed request has one or more)."""

    id: str
    decision_id: str
    attempt_order: int
    provider: str
    model: str
    outcome: Outcome
    task_type: str
    latency_ms: float = 0.0
    error_class: str | None = None
    status_code: int | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    baseline_cost_usd: Decimal = Decimal(0)
    cost_estimated: bool = False
    quality_score: float | None = None
    is_fallback: bool = False
    tenant: str | None = None
    region: str | None = None
    created_at: dt.datetime = field(default_factory=utcnow)


class RecordSink(Protocol):
    """Where records go: never blocks the request path, never drops a record."""

    def submit_decision(self, record: DecisionRecord) -> None: ...

    def submit_attempts(self, records: list[AttemptRecord]) -> None: ...


class HealthSource(Protocol):
    """What the router reads and the executor feeds: per-provider health."""

    def snapshot(self) -> dict[str, ProviderHealth]: ...

    def observe(self, attempt: AttemptRecord, *, retry_after_s: float | None = None) -> None: ...
