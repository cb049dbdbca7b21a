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

from uuid_utils import uuid7

from app.routing.schemas import ProviderHealth, RoutingDecision


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
    # The chain's entries without their estimated cost, which follows from each entry's prices
    # and the tokens (the store keeps one copy of each distinct chain; readers add the costs).
    chain: list[dict[str, Any]] = field(default_factory=list)
    excluded: list[dict[str, Any]] = field(default_factory=list)
    # How many leading `excluded` entries are the ones every decision with these constraints
    # shares (the store keeps one copy of them).
    shared_excluded: int = 0
    estimated_cost_usd: Decimal | None = None
    baseline_cost_usd: Decimal | None = None
    tenant: str | None = None
    user: str | None = None
    idempotency_key: str | None = None
    variant: str | None = None
    created_at: dt.datetime = field(default_factory=utcnow)

    @classmethod
    def from_decision(
        cls, decision: RoutingDecision, *, status: DecisionStatus = DecisionStatus.ROUTED,
        idempotency_key: str | None = None, variant: str | None = None,
        excluded: list[dict[str, Any]] | None = None,
    ) -> DecisionRecord:
        """The record of a decision the engine made (submit it once, with its final status).

        On the request path of every /route: enum members are kept as they are (they are str),
        chain entries are the ranking's memoised ones (Scored.record_entry), and `excluded` is
        the response's list when the caller has built it (the entries are shared, never mutated).
        """
        task = decision.task_type
        i, o = decision.input_tokens, decision.output_tokens
        chain = [s.record_entry(task) for s in decision.chain]
        primary = decision.chain[0].candidate
        return cls(
            id=decision.decision_id, task_type=task, budget=decision.budget, region=decision.region,
            requires_sla=decision.requires_sla, requires_compliance=decision.requires_compliance,
            input_tokens=i, output_tokens=o, status=status, strategy=decision.strategy,
            primary_provider=primary.provider, primary_model=primary.model, chain=chain,
            excluded=[e.to_dict() for e in decision.excluded] if excluded is None else excluded,
            shared_excluded=decision.shared_excluded,
            estimated_cost_usd=primary.estimate_cost(i, o),
            baseline_cost_usd=decision.baseline_cost_usd,
            tenant=decision.tenant, user=decision.user,
            idempotency_key=idempotency_key,
            variant=variant if variant is not None else decision.extra.get("variant"),
        )

    @classmethod
    def rejected(
        cls, decision_id: str, details: dict[str, Any], *, tenant: str | None = None,
        user: str | None = None, idempotency_key: str | None = None,
    ) -> DecisionRecord:
        """The record of a 422 no_eligible_provider, from the error's `details`."""
        req = details.get("request", {})
        return cls(
            id=decision_id, task_type=str(req.get("task_type", "")),
            budget=str(req.get("budget", "")), region=str(req.get("region", "")),
            requires_sla=bool(req.get("requires_sla", False)),
            requires_compliance=bool(req.get("requires_compliance", False)),
            input_tokens=int(req.get("input_tokens", 0)),
            output_tokens=int(req.get("output_tokens", 0)),
            status=DecisionStatus.REJECTED, excluded=list(details.get("excluded", [])),
            tenant=tenant, user=user, idempotency_key=idempotency_key,
        )


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


@dataclass(slots=True)
class HealthSnapshotRecord:
    """A provider's health at one moment (the health refresher stores these periodically)."""

    id: str
    provider: str
    state: str
    success_rate: float
    consecutive_failures: int
    mean_latency_ms: float
    requests: int
    created_at: dt.datetime = field(default_factory=utcnow)

    @classmethod
    def from_health(cls, health: ProviderHealth, *, at: dt.datetime | None = None) -> HealthSnapshotRecord:
        """A snapshot of what the router sees for one provider."""
        return cls(
            id=str(uuid7()), provider=health.name, state=health.state.value,
            success_rate=health.success_rate, consecutive_failures=health.consecutive_failures,
            mean_latency_ms=health.mean_latency_ms, requests=health.requests,
            created_at=at or utcnow(),
        )


class RecordSink(Protocol):
    """Where records go: never blocks the request path, never drops a record."""

    def submit_decision(self, record: DecisionRecord) -> None: ...

    def submit_attempts(self, records: list[AttemptRecord]) -> None: ...


class DiscardingSink:
    """A RecordSink that keeps nothing: for ROUTER_RECORD_DECISIONS=false and store-less tests."""

    def submit_decision(self, record: DecisionRecord) -> None:
        return None

    def submit_attempts(self, records: list[AttemptRecord]) -> None:
        return None


class HealthSource(Protocol):
    """What the router reads and the executor feeds: per-provider health."""

    def snapshot(self) -> dict[str, ProviderHealth]: ...

    def observe(self, attempt: AttemptRecord, *, retry_after_s: float | None = None) -> None: ...
