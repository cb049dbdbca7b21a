"""Turns a decision into the public response: chain, costs, quality, exclusions and reasons."""

from __future__ import annotations

from typing import Any

from app.routing.difficulty import DifficultyChoice
from app.routing.schemas import RoutingDecision, Scored


def chain_entry(decision: RoutingDecision, scored: Scored) -> dict[str, Any]:
    cand = scored.candidate
    return {
        "provider": cand.provider,
        "model": cand.model,
        "region": cand.region,
        "deployment": cand.deployment,
        "context_window": cand.context_window,
        "input_price": cand.input_price_f,
        "output_price": cand.output_price_f,
        "blended_price": round(cand.blended_price_f, 4),
        "expected_quality": cand.quality[decision.task_type],
        "estimated_cost_usd": round(
            cand.estimate_cost_float(decision.input_tokens, decision.output_tokens), 6
        ),
        "score": round(scored.score, 4),
    }


def reasons(decision: RoutingDecision) -> list[str]:
    """Why the primary won, and what the rest of the catalog did, in plain sentences."""
    top = decision.primary
    cand = top.candidate
    out = [
        f"{cand.provider}/{cand.model} ({cand.region}) scored {top.score:.3f} under "
        f"{decision.strategy}: preference {top.preference:.2f}, quality "
        f"{cand.quality[decision.task_type]}/10, cost score {top.cost:.2f} at "
        f"${cand.blended_price_f:.2f}/M blended" + (f", SLA {cand.sla}%" if cand.sla else "")
    ]
    if top.preferred_by:
        out.append(f"preferred by {', '.join(top.preferred_by)}")
    if len(decision.chain) > 1:
        runner = decision.chain[1]
        out.append(
            f"next best {runner.candidate.provider}/{runner.candidate.model} scored "
            f"{runner.score:.3f}"
        )
    counts: dict[str, int] = {}
    for e in decision.excluded:
        # enum members are str subclasses; `.value` is a slow descriptor on the hot path
        counts[e.reason] = counts.get(e.reason, 0) + 1
    summary = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))
    out.append(
        f"{decision.eligible_count} eligible model deployments; {len(decision.excluded)} excluded"
        + (f" ({summary})" if summary else "")
    )
    choice = decision.extra.get("difficulty")
    if isinstance(choice, DifficultyChoice):
        got = choice.expected.get((cand.provider, cand.model), 0.0)
        out.append(
            f"difficulty: strong-win rate {choice.strong_win_rate:.3f} for this prompt; quality "
            f"target {choice.quality_target:.2f} of the best eligible model "
            f"({choice.best_quality}/10); {cand.provider}/{cand.model} expected {got:.3f}, "
            + ("the cheapest of the " + str(choice.met) + " models meeting the target"
               if got >= choice.quality_target - 1e-9 else "none meets it: ranked as usual")
        )
    if decision.panic:
        out.append("every eligible provider has an open circuit: panic mode tries the one "
                   "whose cooldown ends first")
    return out


def decision_payload(decision: RoutingDecision) -> dict[str, Any]:
    """The response of POST /route (field names are public API)."""
    chain = [chain_entry(decision, s) for s in decision.chain]
    primary = decision.primary.candidate
    estimated = chain[0]["estimated_cost_usd"]
    baseline = (
        decision.input_tokens * float(decision.baseline_input_price)
        + decision.output_tokens * float(decision.baseline_output_price)
    ) / 1e6
    savings = (baseline - estimated) / baseline * 100 if baseline else 0.0
    return {
        "decision_id": decision.decision_id,
        "primary_provider": primary.provider,
        "primary_model": primary.model,
        "fallback_providers": decision.fallback_providers,
        "chain": chain,
        "routing_strategy": decision.strategy,
        "estimated_cost": {
            "estimated_cost_usd": estimated,
            "estimated_cost_per_million_tokens": chain[0]["blended_price"],
            "baseline_cost_usd": round(baseline, 6),
            "estimated_savings_percent": round(savings, 1),
            "input_tokens": decision.input_tokens,
            "output_tokens": decision.output_tokens,
        },
        "expected_quality": {"score": primary.quality[decision.task_type], "scale": 10},
        "excluded": [e.to_dict() for e in decision.excluded],
        "reasons": reasons(decision),
        "panic": decision.panic,
        "variant": decision.extra.get("variant"),
    }
