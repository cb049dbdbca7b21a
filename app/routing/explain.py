"""Turns a decision into the public response: chain, costs, quality, exclusions and reasons.

On the path of every /route. The parts of the answer that depend only on a scored candidate
(its chain entry but the cost, the sentence about it) are built once per memoised `Scored` of
the index and reused, and so is the sentence counting exclusions by reason; the `excluded` list
is built once and shared with the decision's record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar

from app.routing.difficulty import DifficultyChoice
from app.routing.schemas import RoutingDecision, Scored

T = TypeVar("T")
MEMO_LIMIT = 4096


class ScoredMemo:
    """Values derived from a `Scored` (and a key), by identity: the index keeps the same objects
    for every decision of a static key, so a hit is a dict lookup. The object is held with its
    value, so its id cannot be reused while cached; the memo is cleared when it grows past
    `MEMO_LIMIT` (an index rebuilt by a quality refresh brings new objects)."""

    def __init__(self) -> None:
        self._values: dict[tuple[int, object], tuple[Scored, Any]] = {}

    def get(self, scored: Scored, key: object, build: Callable[[], T]) -> T:
        hit = self._values.get((id(scored), key))
        if hit is not None and hit[0] is scored:
            value: T = hit[1]
            return value
        value = build()
        if len(self._values) >= MEMO_LIMIT:
            self._values.clear()
        self._values[(id(scored), key)] = (scored, value)
        return value


_ENTRIES = ScoredMemo()
_SENTENCES = ScoredMemo()
_SUMMARIES: dict[tuple[int, tuple[str, ...]], str] = {}
_REASON = attrgetter("reason")


def _entry_template(decision: RoutingDecision, scored: Scored) -> dict[str, Any]:
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
        "estimated_cost_usd": None,  # the one field that depends on the request's tokens
        "score": round(scored.score, 4),
    }


def chain_entry(decision: RoutingDecision, scored: Scored) -> dict[str, Any]:
    """One `chain[]` entry: a copy of the candidate's memoised entry with this request's cost."""
    template = _ENTRIES.get(scored, decision.task_type, lambda: _entry_template(decision, scored))
    entry = template.copy()
    cost = scored.candidate.estimate_cost_float(decision.input_tokens, decision.output_tokens)
    entry["estimated_cost_usd"] = round(cost, 6)
    return entry


def _primary_sentence(decision: RoutingDecision, top: Scored) -> str:
    cand = top.candidate
    return (
        f"{cand.provider}/{cand.model} ({cand.region}) scored {top.score:.3f} under "
        f"{decision.strategy}: preference {top.preference:.2f}, quality "
        f"{cand.quality[decision.task_type]}/10, cost score {top.cost:.2f} at "
        f"${cand.blended_price_f:.2f}/M blended" + (f", SLA {cand.sla}%" if cand.sla else "")
    )


def _summary(eligible: int, excluded_reasons: tuple[str, ...]) -> str:
    """The sentence counting eligible and excluded models, by reason (few distinct ones recur)."""
    key = (eligible, excluded_reasons)
    text = _SUMMARIES.get(key)
    if text is None:
        # enum members are str subclasses: counted and printed as their values
        counts = Counter(excluded_reasons)
        summary = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))
        text = (f"{eligible} eligible model deployments; {len(excluded_reasons)} excluded"
                + (f" ({summary})" if summary else ""))
        if len(_SUMMARIES) >= MEMO_LIMIT:
            _SUMMARIES.clear()
        _SUMMARIES[key] = text
    return text


def reasons(decision: RoutingDecision) -> list[str]:
    """Why the primary won, and what the rest of the catalog did, in plain sentences."""
    top = decision.primary
    cand = top.candidate
    out = [_SENTENCES.get(top, (decision.task_type, decision.strategy),
                          lambda: _primary_sentence(decision, top))]
    if top.preferred_by:
        out.append(f"preferred by {', '.join(top.preferred_by)}")
    if len(decision.chain) > 1:
        runner = decision.chain[1]
        out.append(_SENTENCES.get(runner, "runner", lambda: (
            f"next best {runner.candidate.provider}/{runner.candidate.model} scored "
            f"{runner.score:.3f}")))
    out.append(_summary(decision.eligible_count, tuple(map(_REASON, decision.excluded))))
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


def excluded_payload(decision: RoutingDecision) -> list[dict[str, str]]:
    """`excluded[]` of the response and of the record (each entry is built once per exclusion)."""
    return [e.to_dict() for e in decision.excluded]


def decision_payload(decision: RoutingDecision,
                     excluded: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The response of POST /route (field names are public API); `excluded` if already built."""
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
        "excluded": excluded_payload(decision) if excluded is None else excluded,
        "reasons": reasons(decision),
        "panic": decision.panic,
        "variant": decision.extra.get("variant"),
    }
