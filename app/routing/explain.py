"""Turns a decision into the public response: chain, costs, quality, exclusions and reasons."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from app.routing.schemas import RoutingDecision, Scored


def usd(value: Decimal, places: int = 6) -> float:
    """A Decimal amount as a JSON number rounded to `places` (exact values stay in the store)."""
    return float(round(value, places))


def chain_entry(decision: RoutingDecision, scored: Scored) -> dict[str, Any]:
    cand = scored.candidate
    return {
        "provider": cand.provider,
        "model": cand.model,
        "region": cand.region.value,
        "deployment": cand.deployment,
        "context_window": cand.context_window,
        "input_price": float(cand.input_price),
        "output_price": float(cand.output_price),
        "blended_price": usd(cand.blended_price, 4),
        "expected_quality": cand.quality[decision.task_type],
        "estimated_cost_usd": usd(cand.estimate_cost(decision.input_tokens, decision.output_tokens)),
        "score": round(scored.score, 4),
    }


def reasons(decision: RoutingDecision) -> list[str]:
    """Why the primary won, and what the rest of the catalog did, in plain sentences."""
    top = decision.primary
    cand = top.candidate
    out = [
        f"{cand.provider}/{cand.model} ({cand.region.value}) scored {top.score:.3f} under "
        f"{decision.strategy.value}: preference {top.preference:.2f}, quality "
        f"{cand.quality[decision.task_type]}/10, cost score {top.cost:.2f} at "
        f"${cand.blended_price:.2f}/M blended"
        + (f", SLA {cand.sla}%" if cand.sla else ""),
    ]
    if top.preferred_by:
        out.append(f"preferred by {', '.join(top.preferred_by)}")
    if len(decision.chain) > 1:
        runner = decision.chain[1]
        out.append(
            f"next best {runner.candidate.provider}/{runner.candidate.model} scored "
            f"{runner.score:.3f}"
        )
    counts = Counter(e.reason.value for e in decision.excluded)
    summary = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))
    out.append(
        f"{decision.eligible_count} eligible model deployments; {len(decision.excluded)} excluded"
        + (f" ({summary})" if summary else "")
    )
    if decision.panic:
        out.append("every eligible provider has an open circuit: panic mode tries the one "
                   "whose cooldown ends first")
    return out


def decision_payload(decision: RoutingDecision) -> dict[str, Any]:
    """The response of POST /route (field names are public API)."""
    estimated = decision.estimated_cost_usd
    baseline = decision.baseline_cost_usd
    savings = float((baseline - estimated) / baseline * 100) if baseline else 0.0
    primary = decision.primary.candidate
    return {
        "decision_id": decision.decision_id,
        "primary_provider": primary.provider,
        "primary_model": primary.model,
        "fallback_providers": decision.fallback_providers,
        "chain": [chain_entry(decision, s) for s in decision.chain],
        "routing_strategy": decision.strategy.value,
        "estimated_cost": {
            "estimated_cost_usd": usd(estimated),
            "estimated_cost_per_million_tokens": usd(primary.blended_price, 4),
            "baseline_cost_usd": usd(baseline),
            "estimated_savings_percent": round(savings, 1),
            "input_tokens": decision.input_tokens,
            "output_tokens": decision.output_tokens,
        },
        "expected_quality": {"score": primary.quality[decision.task_type], "scale": 10},
        "excluded": [e.to_dict() for e in decision.excluded],
        "reasons": reasons(decision),
        "panic": decision.panic,
    }
