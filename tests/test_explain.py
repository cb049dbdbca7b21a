"""The /route payload built from memoised parts equals the one built from scratch."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.config.catalog import Catalog
from app.config.enums import BudgetTier, Region, TaskType
from app.errors import NoEligibleProvider
from app.records import DecisionRecord
from app.routing import explain
from app.routing.engine import decide
from app.routing.index import CatalogIndex
from app.routing.schemas import RoutingDecision

requests = st.fixed_dictionaries({
    "task_type": st.sampled_from(list(TaskType)),
    "budget": st.sampled_from(list(BudgetTier)),
    "input_tokens": st.integers(0, 300_000),
    "region": st.sampled_from(list(Region)),
    "requires_sla": st.booleans(),
    "requires_compliance": st.booleans(),
})


def from_scratch(d: RoutingDecision) -> dict[str, Any]:
    """The payload as the memo-free formulas give it."""
    chain = [{
        "provider": s.candidate.provider, "model": s.candidate.model, "region": s.candidate.region,
        "deployment": s.candidate.deployment, "context_window": s.candidate.context_window,
        "input_price": float(s.candidate.input_price), "output_price": float(s.candidate.output_price),
        "blended_price": round(float(s.candidate.blended_price), 4),
        "expected_quality": s.candidate.quality[d.task_type],
        "estimated_cost_usd": round(s.candidate.estimate_cost_float(d.input_tokens, d.output_tokens), 6),
        "score": round(s.score, 4),
    } for s in d.chain]
    top = d.primary
    counts: dict[str, int] = {}
    for e in d.excluded:
        counts[e.reason.value] = counts.get(e.reason.value, 0) + 1
    first = (f"{top.candidate.provider}/{top.candidate.model} ({top.candidate.region.value}) scored "
             f"{top.score:.3f} under {d.strategy.value}: preference {top.preference:.2f}, quality "
             f"{top.candidate.quality[d.task_type]}/10, cost score {top.cost:.2f} at "
             f"${top.candidate.blended_price_f:.2f}/M blended")
    sla = f", SLA {top.candidate.sla}%" if top.candidate.sla else ""
    return {"chain": chain, "first_reason": first + sla, "counts": counts,
            "excluded": [e.to_dict() for e in d.excluded]}


def as_built(d: RoutingDecision) -> dict[str, Any]:
    payload = explain.decision_payload(d)
    summary = payload["reasons"][-1] if not d.panic else payload["reasons"][-2]
    counts = {}
    if "(" in summary:
        for part in summary.split("(", 1)[1].rstrip(")").split(", "):
            n, reason = part.split(" ", 1)
            counts[reason] = int(n)
    return {"chain": payload["chain"], "first_reason": payload["reasons"][0], "counts": counts,
            "excluded": payload["excluded"]}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(req=requests, boost=st.floats(1.0, 9.9))
def test_memoised_payload_matches_a_fresh_build_across_index_rebuilds(
        catalog: Catalog, req: dict[str, Any], boost: float) -> None:
    """Two indexes (the second with a quality overlay, as a refresh builds it) answer the same
    request; each payload must match its own decision, never the other index's memoised parts."""
    first = CatalogIndex(catalog)
    overlay = {(c.provider, c.model, req["task_type"]): round(boost, 1) for c in first.candidates}
    second = CatalogIndex(catalog, quality_overlay=overlay)
    for index in (first, second, first):
        with contextlib.suppress(NoEligibleProvider):
            d = decide(index, **req)
            assert as_built(d) == from_scratch(d)


def test_record_and_response_share_one_excluded_list(index: CatalogIndex) -> None:
    d = decide(index, task_type=TaskType.CHAT, budget=BudgetTier.LOW, input_tokens=2000)
    excluded = explain.excluded_payload(d)
    record = DecisionRecord.from_decision(d, excluded=excluded)
    assert record.excluded is excluded and explain.decision_payload(d, excluded)["excluded"] is excluded
    assert DecisionRecord.from_decision(d).excluded == excluded == [e.to_dict() for e in d.excluded]
    assert len(excluded) > 0


def test_no_key_exclusions_are_shared_per_candidate_and_carry_the_public_fields(catalog: Catalog) -> None:
    index = CatalogIndex(catalog)
    keyed = frozenset(catalog.providers) - {"deepseek", "mistral"}
    ask = {"task_type": TaskType.CHAT, "budget": BudgetTier.LOW, "keyed_providers": keyed}
    a, b = decide(index, input_tokens=2000, **ask), decide(index, input_tokens=900, **ask)
    no_key_a = [e for e in a.excluded if e.reason.value == "no_key"]
    no_key_b = [e for e in b.excluded if e.reason.value == "no_key"]
    assert {e.provider for e in no_key_a} == {"deepseek", "mistral"}
    assert all(x is y for x, y in zip(no_key_a, no_key_b, strict=True))
    for e in no_key_a:
        assert e.to_dict() == {"provider": e.provider, "model": e.model, "region": e.region.value,
                               "reason": "no_key", "detail": "no API key configured for this provider"}
    # a candidate of another index (a refreshed one) gets its own exclusion, with its own fields
    other = CatalogIndex(catalog).candidates[0]
    assert index.no_key_exclusion(other).to_dict()["model"] == other.model
