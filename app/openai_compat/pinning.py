"""`model` as the caller names it: `auto`, `provider/model` (pinned first, fallbacks still routed
within the caller's constraints), or a bare catalog model name (its first provider in the catalog).

A pinned model skips the budget ceiling (the caller chose it; its fallbacks keep the budget) but
not the hard constraints: region, compliance, SLA and the context window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from uuid_utils import uuid7

from app.config.catalog import Catalog, ModelSpec
from app.config.enums import BudgetTier, TaskType
from app.errors import BadRequest, NoEligibleProvider
from app.openai_compat.errors import ModelNotFound
from app.openai_compat.wire import model_id
from app.routing.index import CatalogIndex, StaticKey
from app.routing.router import input_tokens_for
from app.routing.schemas import RouteRequest, RoutingDecision, Scored
from app.tenancy.admission import bind_tenant

if TYPE_CHECKING:
    from app.context import ServiceContext

AUTO = "auto"
AUTO_ALIASES = frozenset({"auto", "router/auto", "smart-llm-router/auto"})


@dataclass(frozen=True, slots=True)
class Pin:
    """A catalog model the caller named."""

    provider: str
    model: str
    spec: ModelSpec

    @property
    def name(self) -> str:
        return model_id(self.provider, self.model)


def resolve_model(catalog: Catalog, name: str) -> Pin | None:
    """None for `auto`; the named catalog model; else 404 model_not_found."""
    if name.strip().lower() in AUTO_ALIASES:
        return None
    provider, _, model = name.partition("/")
    spec = catalog.providers.get(provider)
    if spec is not None and model:
        found = next((m for m in spec.models if m.name == model), None)
        if found is not None:
            return Pin(provider, model, found)
    for pname, pspec in catalog.providers.items():
        bare = next((m for m in pspec.models if m.name == name), None)
        if bare is not None:
            return Pin(pname, bare.name, bare)
    raise ModelNotFound(f"The model `{name}` does not exist; use `auto` or an id from GET /v1/models "
                        "(`provider/model`)", details={"param": "model"})


def task_for_pin(pin: Pin, task: TaskType, source: str) -> TaskType:
    """An inferred task the pinned model lacks becomes chat (images stay vision: they need it)."""
    if task in pin.spec.capabilities or not source.startswith("inferred") or task is TaskType.VISION:
        return task
    return TaskType.CHAT if TaskType.CHAT in pin.spec.capabilities else task


def pinned_entry(index: CatalogIndex, request: RouteRequest, pin: Pin) -> Scored:
    """The pinned model's best deployment that meets the hard constraints, or 400 saying why not."""
    catalog = index.catalog
    needed = (input_tokens_for(request, catalog.defaults.chars_per_token)
              + (request.expected_output_tokens or catalog.defaults.expected_output_tokens))
    key = StaticKey(request.task_type, BudgetTier.UNLIMITED, request.region, request.requires_sla,
                    request.requires_compliance, index.context_class(needed))
    static = index.static(key)
    reasons: list[str] = []
    for scored in static.ranked:
        cand = scored.candidate
        if (cand.provider, cand.model) != (pin.provider, pin.model):
            continue
        if cand.context_window < needed:
            reasons.append(f"context window {cand.context_window} < {needed} tokens")
            continue
        return scored
    reasons += [f"{e.reason.value}: {e.detail}" for e in static.excluded
                if (e.provider, e.model) == (pin.provider, pin.model)]
    raise BadRequest(f"{pin.name} cannot serve this request: {'; '.join(reasons) or 'no deployment fits'}",
                     details={"param": "model", "reasons": reasons})


def decide_pinned(ctx: ServiceContext, request: RouteRequest, entry: Scored) -> RoutingDecision:
    """The routed chain for the constraints with the pinned model moved (or put) first."""
    bind_tenant(request)
    decision_id = str(uuid7())
    health = ctx.health.snapshot() if ctx.health is not None else None
    try:
        routed = ctx.router.decide(request, keyed=ctx.keyed_providers, decision_id=decision_id,
                                   health=health)
    except NoEligibleProvider:
        routed = _without_fallbacks(ctx.catalog, request, decision_id)
    pinned = (entry.candidate.provider, entry.candidate.model)
    rest = [s for s in routed.chain if (s.candidate.provider, s.candidate.model) != pinned]
    # `routed` was made for this request alone: completed in place (replace() copied every field).
    routed.chain = (entry, *rest)[: 1 + ctx.catalog.defaults.max_fallbacks]
    routed.eligible_count = max(routed.eligible_count, 1)
    routed.extra = {**routed.extra, "pinned": model_id(*pinned)}
    return routed


def _without_fallbacks(catalog: Catalog, request: RouteRequest, decision_id: str) -> RoutingDecision:
    """Nothing but the pinned model fits the constraints: a decision with an empty chain to fill."""
    return RoutingDecision(
        decision_id=decision_id, task_type=request.task_type, budget=request.budget,
        region=request.region, requires_sla=request.requires_sla,
        requires_compliance=request.requires_compliance,
        strategy=catalog.budget_tiers[request.budget].strategy,
        input_tokens=input_tokens_for(request, catalog.defaults.chars_per_token),
        output_tokens=request.expected_output_tokens or catalog.defaults.expected_output_tokens,
        chain=(), excluded=(), baseline_input_price=catalog.baseline.input_price,
        baseline_output_price=catalog.baseline.output_price, tenant=request.tenant, user=request.user,
    )
