"""Invariants 1-7 of SPEC section 4, checked by hypothesis over random requests and health."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.config.catalog import Catalog
from app.config.enums import BudgetTier, CircuitState, Region, TaskType
from app.errors import NoEligibleProvider
from app.routing.engine import decide
from app.routing.index import CatalogIndex
from app.routing.schemas import Candidate, ProviderHealth, RoutingDecision

PROVIDERS = [
    "openai", "anthropic", "mistral", "deepseek", "gemini", "cohere", "vertex_ai",
    "azure_openai", "bedrock", "openrouter", "perplexity", "huggingface",
]

requests = st.fixed_dictionaries({
    "task_type": st.sampled_from(list(TaskType)),
    "budget": st.sampled_from(list(BudgetTier)),
    "input_tokens": st.one_of(st.integers(0, 10_000), st.integers(0, 2_000_000)),
    "output_tokens": st.one_of(st.none(), st.integers(1, 70_000)),
    "region": st.sampled_from(list(Region)),
    "requires_sla": st.booleans(),
    "requires_compliance": st.booleans(),
})
health_states = st.dictionaries(
    st.sampled_from(PROVIDERS),
    st.builds(
        ProviderHealth,
        name=st.just("x"),
        state=st.sampled_from(list(CircuitState)),
        degraded=st.booleans(),
        cooldown_until=st.one_of(st.none(), st.floats(0, 1e6)),
    ),
)
keys = st.one_of(st.none(), st.frozensets(st.sampled_from(PROVIDERS), min_size=1))


def eligible_by_oracle(
    catalog: Catalog, c: Candidate, req: dict[str, object], keyed: frozenset[str] | None
) -> bool:
    """A plain restatement of the hard constraints, independent of the engine's code."""
    tier = catalog.budget_tiers[req["budget"]]  # type: ignore[index]
    out = req["output_tokens"] or catalog.defaults.expected_output_tokens
    region = req["region"]
    required = catalog.regional_rules[region].required_compliance  # type: ignore[index]
    return (
        req["task_type"] in c.capabilities
        and c.context_window >= req["input_tokens"] + out  # type: ignore[operator]
        and (c.max_output_tokens is None or c.max_output_tokens >= out)  # type: ignore[operator]
        and (tier.max_blended_price is None or c.blended_price <= tier.max_blended_price)
        and (region is Region.GLOBAL or c.region is region)
        and (not req["requires_compliance"] or required <= c.compliance)
        and (not req["requires_sla"] or c.sla is not None)
        and (keyed is None or c.provider in keyed)
    )


def _identity(d: RoutingDecision) -> tuple[object, ...]:
    return (
        [(s.candidate.provider, s.candidate.model, s.candidate.deployment) for s in d.chain],
        [(e.provider, e.model, e.region, e.reason) for e in d.excluded],
        d.strategy, d.panic,
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(req=requests, health=health_states, keyed=keys)
def test_every_decision_keeps_the_invariants(
    index: CatalogIndex, catalog: Catalog, req: dict[str, object],
    health: dict[str, ProviderHealth], keyed: frozenset[str] | None,
) -> None:
    eligible = [c for c in index.candidates if eligible_by_oracle(catalog, c, req, keyed)]
    try:
        d = decide(index, health=health, keyed_providers=keyed, **req)  # type: ignore[arg-type]
    except NoEligibleProvider as exc:
        # 6: no eligible model -> 422 with a reason for every candidate
        assert not eligible
        assert len(exc.details["excluded"]) == len(index.candidates)
        return
    assert eligible
    chain = [s.candidate for s in d.chain]
    out = d.output_tokens
    tier = catalog.budget_tiers[d.budget]
    for c in chain:
        assert c in eligible  # 1, 2, 3: every hard constraint holds for every chain entry
        assert d.task_type in c.capabilities
        assert c.context_window >= d.input_tokens + out
        if tier.max_blended_price is not None:
            assert c.blended_price <= tier.max_blended_price
        if d.budget is BudgetTier.FREE:
            assert c.blended_price == Decimal(0)
        if d.region is Region.EU and d.requires_compliance:
            assert c.region is Region.EU and "gdpr" in c.compliance
        if d.requires_sla:
            assert c.sla is not None
    # 4: an open circuit is never primary, and is dropped while anything else is eligible
    def is_open(c: Candidate) -> bool:
        ph = health.get(c.provider)
        return ph is not None and ph.state is CircuitState.OPEN

    if any(not is_open(c) for c in eligible):
        assert not d.panic
        assert not any(is_open(c) for c in chain)
    else:
        assert d.panic
    # 5: no duplicates, bounded length, primary first
    idents = [(c.provider, c.model) for c in chain]
    assert len(idents) == len(set(idents))
    assert 1 <= len(chain) <= 1 + catalog.defaults.max_fallbacks
    assert d.primary_provider == chain[0].provider
    # every candidate is either eligible or excluded exactly once with a reason
    excluded = [(e.provider, e.model, e.region) for e in d.excluded]
    assert len(excluded) == len(set(excluded))
    assert len(d.excluded) == len(index.candidates) - len(eligible) + (
        0 if d.panic else sum(1 for c in eligible if is_open(c))
    )
    # 7: the same request and health give the same decision, memoised or not
    again = decide(index, health=health, keyed_providers=keyed, **req)  # type: ignore[arg-type]
    fresh = decide(CatalogIndex(catalog), health=health, keyed_providers=keyed, **req)  # type: ignore[arg-type]
    assert _identity(d) == _identity(again) == _identity(fresh)


def test_degraded_providers_sink_below_healthy_ones(index: CatalogIndex) -> None:
    base = decide(index, task_type=TaskType.CHAT, budget=BudgetTier.LOW, input_tokens=2000)
    assert base.primary_provider == "deepseek"
    health = {"deepseek": ProviderHealth("deepseek", state=CircuitState.HALF_OPEN)}
    d = decide(index, task_type=TaskType.CHAT, budget=BudgetTier.LOW, input_tokens=2000,
               health=health)
    providers = [s.candidate.provider for s in d.chain]
    healthy_providers = {s.candidate.provider for s in base.chain} | set(base.fallback_providers)
    assert providers[0] != "deepseek"
    # enough healthy providers remain to fill the chain, so the degraded one sinks out of it
    assert len(healthy_providers - {"deepseek"}) >= len(providers) - 1
    assert "deepseek" not in providers[:-1]


def test_panic_mode_picks_the_soonest_cooldown(index: CatalogIndex) -> None:
    health = {
        name: ProviderHealth(name, state=CircuitState.OPEN, cooldown_until=1000.0 + i)
        for i, name in enumerate(reversed(PROVIDERS))
    }
    d = decide(index, task_type=TaskType.CHAT, budget=BudgetTier.LOW, input_tokens=100,
               health=health)
    assert d.panic
    ends = [health[s.candidate.provider].cooldown_until for s in d.chain]
    assert ends == sorted(ends)  # type: ignore[type-var]
