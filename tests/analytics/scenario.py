"""A small, fully known set of records: five executed requests, a routed one, a rejected one, old ones."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from uuid_utils import uuid7

from app.records import AttemptRecord, DecisionRecord, DecisionStatus, Outcome


@dataclass
class Scenario:
    now: dt.datetime
    decisions: list[DecisionRecord] = field(default_factory=list)
    attempts: list[AttemptRecord] = field(default_factory=list)

    def request(
        self,
        *,
        ago: dt.timedelta,
        task: str = "chat",
        tenant: str | None = "acme",
        status: DecisionStatus = DecisionStatus.SUCCEEDED,
        calls: list[dict[str, Any]],
        budget: str = "low",
        region: str = "global",
        compliance: bool = False,
        tokens: int = 1500,
    ) -> DecisionRecord:
        at = self.now - ago
        primary = calls[0]["provider"] if calls else None
        decision = DecisionRecord(
            id=str(uuid7()),
            task_type=task,
            budget=budget,
            region=region,
            requires_sla=False,
            requires_compliance=compliance,
            input_tokens=tokens - 500,
            output_tokens=500,
            status=status,
            strategy="cost_optimized",
            primary_provider=primary,
            primary_model=calls[0].get("model", "m") if calls else None,
            chain=[{"provider": c["provider"], "model": c.get("model", "m")} for c in calls],
            excluded=[{"provider": "openai", "model": "gpt-4", "reason": "budget", "detail": "over"}],
            tenant=tenant,
            created_at=at,
        )
        self.decisions.append(decision)
        for order, c in enumerate(calls):
            values = {"outcome": Outcome.SUCCESS, "model": "m", "latency_ms": 100.0, **c}
            money = {k: Decimal(str(values.pop(k, "0"))) for k in ("cost_usd", "baseline_cost_usd")}
            self.attempts.append(
                AttemptRecord(
                    id=str(uuid7()),
                    decision_id=decision.id,
                    attempt_order=order,
                    task_type=task,
                    tenant=tenant,
                    is_fallback=order > 0,
                    created_at=at + dt.timedelta(milliseconds=order),
                    **money,
                    **values,
                )
            )
        return decision


def build(now: dt.datetime) -> Scenario:
    """The records every figure test checks (numbers chosen so each figure is easy to verify)."""
    s = Scenario(now)
    hour = dt.timedelta(hours=1)
    ok = Outcome.SUCCESS
    s.request(
        ago=hour,
        calls=[
            dict(
                provider="deepseek",
                model="deepseek-chat",
                latency_ms=100.0,
                input_tokens=1000,
                output_tokens=500,
                cost_usd="0.00123",
                baseline_cost_usd="0.03",
                quality_score=8.0,
                outcome=ok,
            )
        ],
    )
    s.request(
        ago=2 * hour,
        calls=[
            dict(
                provider="deepseek",
                model="deepseek-chat",
                latency_ms=50.0,
                outcome=Outcome.ERROR,
                error_class="server_error",
                status_code=500,
            ),
            dict(
                provider="mistral",
                model="mistral-small-latest",
                latency_ms=300.0,
                input_tokens=1000,
                output_tokens=500,
                cost_usd="0.002",
                baseline_cost_usd="0.03",
                quality_score=7.0,
            ),
        ],
    )
    s.request(
        ago=3 * hour,
        task="summarization",
        tenant="globex",
        budget="high",
        calls=[
            dict(
                provider="openai",
                model="gpt-4o",
                latency_ms=1000.0,
                input_tokens=2000,
                output_tokens=500,
                cost_usd="0.05",
                baseline_cost_usd="0.05",
                quality_score=9.0,
            )
        ],
    )
    s.request(
        ago=4 * hour,
        tenant="globex",
        status=DecisionStatus.FAILED,
        calls=[
            dict(
                provider="deepseek",
                model="deepseek-chat",
                latency_ms=2000.0,
                outcome=Outcome.TIMEOUT,
                error_class="timeout",
            ),
            dict(
                provider="mistral",
                model="mistral-small-latest",
                latency_ms=10.0,
                outcome=Outcome.RATE_LIMITED,
                error_class="rate_limited",
                status_code=429,
            ),
            dict(
                provider="gemini",
                model="gemini-2.0-flash",
                latency_ms=0.0,
                outcome=Outcome.SKIPPED,
                error_class="no_key",
            ),
        ],
    )
    s.request(
        ago=5 * hour,
        task="code",
        tenant=None,
        calls=[
            dict(
                provider="anthropic",
                model="claude",
                latency_ms=0.0,
                outcome=Outcome.SKIPPED,
                error_class="no_key",
            ),
            dict(
                provider="deepseek",
                model="deepseek-chat",
                latency_ms=200.0,
                input_tokens=800,
                output_tokens=200,
                cost_usd="0.0004",
                baseline_cost_usd="0.02",
            ),
        ],
    )
    s.request(ago=6 * hour, status=DecisionStatus.ROUTED, calls=[])
    s.request(ago=7 * hour, task="vision", status=DecisionStatus.REJECTED, calls=[])
    # Outside a 24-hour window, inside 48 hours: must not count in the 24-hour figures.
    s.request(
        ago=30 * hour,
        calls=[
            dict(
                provider="deepseek",
                model="deepseek-chat",
                latency_ms=120.0,
                input_tokens=1000,
                output_tokens=500,
                cost_usd="1.5",
                baseline_cost_usd="2.5",
            )
        ],
    )
    return s
