"""Records for store tests, with realistic values (exact costs, UTC times, nested JSON)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from uuid_utils import uuid7

from app.records import AttemptRecord, DecisionRecord, DecisionStatus, HealthSnapshotRecord, Outcome


def decision(**overrides: Any) -> DecisionRecord:
    values: dict[str, Any] = {
        "id": str(uuid7()), "task_type": "chat", "budget": "low", "region": "global",
        "requires_sla": False, "requires_compliance": False, "input_tokens": 2000,
        "output_tokens": 500, "status": DecisionStatus.ROUTED, "strategy": "cost_optimized",
        "primary_provider": "deepseek", "primary_model": "deepseek-chat",
        "chain": [{"provider": "deepseek", "model": "deepseek-chat", "estimated_cost_usd": 0.00162}],
        "excluded": [{"provider": "openai", "model": "gpt-4", "region": "us", "reason": "budget",
                      "detail": "blended price $37.5/M over the low tier ceiling $2.0/M"}],
        "estimated_cost_usd": Decimal("0.0016200000"), "baseline_cost_usd": Decimal("0.05"),
        "tenant": "acme", "user": "u-1",
    }
    values.update(overrides)
    return DecisionRecord(**values)


def attempt(decision_id: str, order: int = 0, **overrides: Any) -> AttemptRecord:
    values: dict[str, Any] = {
        "id": str(uuid7()), "decision_id": decision_id, "attempt_order": order,
        "provider": "deepseek", "model": "deepseek-chat", "outcome": Outcome.SUCCESS,
        "task_type": "chat", "latency_ms": 123.4, "input_tokens": 2000, "output_tokens": 480,
        "cached_tokens": 100, "reasoning_tokens": 0, "cost_usd": Decimal("0.0015726"),
        "baseline_cost_usd": Decimal("0.0688"), "tenant": "acme", "region": "global",
    }
    values.update(overrides)
    return AttemptRecord(**values)


def health(provider: str = "openai", **overrides: Any) -> HealthSnapshotRecord:
    values: dict[str, Any] = {
        "id": str(uuid7()), "provider": provider, "state": "closed", "success_rate": 0.98,
        "consecutive_failures": 0, "mean_latency_ms": 420.0, "requests": 57,
        "created_at": dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC),
    }
    values.update(overrides)
    return HealthSnapshotRecord(**values)
