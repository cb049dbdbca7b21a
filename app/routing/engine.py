"""The routing engine: pure and synchronous. Catalog index + health + request -> decision."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from uuid_utils import uuid7

from app.config.enums import BudgetTier, CircuitState, ExclusionReason, Region, TaskType
from app.errors import NoEligibleProvider
from app.routing.difficulty import order_by_target
from app.routing.index import CatalogIndex, StaticKey
from app.routing.schemas import Exclusion, ProviderHealth, RoutingDecision, Scored

HealthSnapshot = Mapping[str, ProviderHealth]


def decide(
    index: CatalogIndex,
    *,
    task_type: TaskType,
    budget: BudgetTier,
    input_tokens: int,
    output_tokens: int | None = None,
    region: Region = Region.GLOBAL,
    requires_sla: bool = False,
    requires_compliance: bool = False,
    health: HealthSnapshot | None = None,
    keyed_providers: Collection[str] | None = None,
    decision_id: str | None = None,
    tenant: str | None = None,
    user: str | None = None,
    quality_target: float | None = None,
    strong_win_rate: float | None = None,
) -> RoutingDecision:
    """Choose the chain for one request, or raise NoEligibleProvider with every exclusion.

    Static filters (capability, budget, region, compliance, SLA) and scores come memoised from
    the index; this walks the presorted survivors for context, keys and health. Healthy
    providers come first, degraded ones after them, open ones only when nothing else is left
    (panic mode, soonest cooldown first). One model per provider first; other models of chosen
    providers fill the chain only when there are too few providers. With `quality_target`, each
    health group puts the models meeting it cheapest first (app/routing/difficulty.py; an
    absent `strong_win_rate` counts as 1, the cautious end).
    """
    catalog = index.catalog
    out_tokens = output_tokens if output_tokens is not None else catalog.defaults.expected_output_tokens
    needed = input_tokens + out_tokens
    key = StaticKey(task_type, budget, region, requires_sla, requires_compliance,
                    index.context_class(needed))
    static = index.static(key)
    health = health or {}
    excluded: list[Exclusion] = list(static.excluded)
    healthy: list[Scored] = []
    degraded: list[Scored] = []
    opened: list[Scored] = []
    for scored in static.ranked:
        cand = scored.candidate
        if cand.context_window < needed:
            excluded.append(Exclusion(
                cand.provider, cand.model, cand.region, ExclusionReason.CONTEXT,
                "window {} < {} input + {} output tokens",
                (cand.context_window, input_tokens, out_tokens),
            ))
            continue
        if cand.max_output_tokens is not None and cand.max_output_tokens < out_tokens:
            excluded.append(Exclusion(
                cand.provider, cand.model, cand.region, ExclusionReason.CONTEXT,
                "at most {} output tokens < {} expected", (cand.max_output_tokens, out_tokens),
            ))
            continue
        if keyed_providers is not None and cand.provider not in keyed_providers:
            excluded.append(index.no_key_exclusion(cand))
            continue
        ph = health.get(cand.provider)
        if ph is None or (ph.state is CircuitState.CLOSED and not ph.degraded):
            healthy.append(scored)
        elif ph.state is CircuitState.OPEN:
            opened.append(scored)
        else:
            degraded.append(scored)

    eligible = len(healthy) + len(degraded)
    panic = False
    if eligible:
        for scored in opened:
            cand = scored.candidate
            excluded.append(Exclusion(
                cand.provider, cand.model, cand.region, ExclusionReason.UNHEALTHY,
                "circuit open{}", (_cooldown_text(health.get(cand.provider)),),
            ))
        groups = [healthy, degraded]
    elif opened:
        panic = True
        opened.sort(key=lambda s: _cooldown_end(health.get(s.candidate.provider)))
        groups = [opened]
    else:
        raise NoEligibleProvider(
            "no model satisfies every constraint; relax one of the reasons in `excluded`",
            details={
                "excluded": [e.to_dict() for e in excluded],
                "request": {
                    "task_type": task_type.value, "budget": budget.value, "region": region.value,
                    "requires_sla": requires_sla, "requires_compliance": requires_compliance,
                    "input_tokens": input_tokens, "output_tokens": out_tokens,
                },
            },
        )
    extra: dict[str, object] = {}
    if quality_target is not None:
        groups, extra["difficulty"] = order_by_target(
            groups, task_type, quality_target=quality_target,
            strong_win_rate=1.0 if strong_win_rate is None else strong_win_rate)
    pool = [s for group in groups for s in group]
    chain = _build_chain(pool, 1 + catalog.defaults.max_fallbacks)
    return RoutingDecision(
        decision_id=decision_id or str(uuid7()),
        task_type=task_type,
        budget=budget,
        region=region,
        requires_sla=requires_sla,
        requires_compliance=requires_compliance,
        strategy=static.strategy,
        input_tokens=input_tokens,
        output_tokens=out_tokens,
        chain=chain,
        excluded=tuple(excluded),
        baseline_input_price=catalog.baseline.input_price,
        baseline_output_price=catalog.baseline.output_price,
        eligible_count=eligible or len(opened),
        panic=panic,
        shared_excluded=len(static.excluded),
        tenant=tenant,
        user=user,
        extra=extra,
    )


def _build_chain(pool: list[Scored], limit: int) -> tuple[Scored, ...]:
    """Best model per provider in pool order, then other distinct models, up to `limit`."""
    chain: list[Scored] = []
    providers: set[str] = set()
    seen_models: set[tuple[str, str]] = set()
    for scored in pool:
        cand = scored.candidate
        if cand.provider not in providers:
            providers.add(cand.provider)
            seen_models.add((cand.provider, cand.model))
            chain.append(scored)
            if len(chain) == limit:
                return tuple(chain)
    for scored in pool:
        ident = (scored.candidate.provider, scored.candidate.model)
        if ident not in seen_models:
            seen_models.add(ident)
            chain.append(scored)
            if len(chain) == limit:
                break
    return tuple(chain)


def _cooldown_end(ph: ProviderHealth | None) -> float:
    return ph.cooldown_until if ph and ph.cooldown_until is not None else 0.0


def _cooldown_text(ph: ProviderHealth | None) -> str:
    if ph is None or ph.cooldown_until is None:
        return ""
    return f" until {ph.cooldown_until:.0f} (epoch s)"
