"""The catalog flattened for routing: candidates, and the static filters and scores, memoised.

Everything a decision needs that does not depend on the request's size, the keys or health is
computed once per (task, budget, region, sla, compliance, context class) and reused, so a
decision only walks a short, presorted list.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from app.config.catalog import Catalog, ContextClass
from app.config.enums import BudgetTier, ExclusionReason, Region, Strategy, TaskType
from app.routing.schemas import Candidate, Exclusion, Scored

QualityOverlay = Mapping[tuple[str, str, TaskType], float]


@dataclass(frozen=True, slots=True)
class StaticKey:
    task: TaskType
    budget: BudgetTier
    region: Region
    requires_sla: bool
    requires_compliance: bool
    context_class: int


@dataclass(frozen=True, slots=True)
class StaticResult:
    """Candidates that pass the static filters, best first, and the ones they left out."""

    ranked: tuple[Scored, ...]
    excluded: tuple[Exclusion, ...]
    strategy: Strategy


class CatalogIndex:
    """Precomputed view of a catalog; cheap to share, safe to read from many requests."""

    def __init__(self, catalog: Catalog, quality_overlay: QualityOverlay | None = None) -> None:
        self.catalog = catalog
        self.quality_overlay = dict(quality_overlay or {})
        self.candidates: tuple[Candidate, ...] = tuple(self._build_candidates())
        self.by_provider_model: dict[tuple[str, str], tuple[Candidate, ...]] = {}
        for cand in self.candidates:
            key = (cand.provider, cand.model)
            self.by_provider_model[key] = (*self.by_provider_model.get(key, ()), cand)
        self.context_limits: tuple[int | None, ...] = tuple(
            c.max_tokens for c in catalog.context_classes
        )
        prices = [c.blended_price for c in self.candidates] or [Decimal(0)]
        self.max_price = max(prices)
        self.by_task: dict[TaskType, tuple[Candidate, ...]] = {
            task: tuple(c for c in self.candidates if task in c.capabilities) for task in TaskType
        }
        self.capability_exclusions: dict[TaskType, tuple[Exclusion, ...]] = {
            task: tuple(
                Exclusion(c.provider, c.model, c.region, ExclusionReason.CAPABILITY,
                          "does not support task {}", (task.value,))
                for c in self.candidates if task not in c.capabilities
            )
            for task in TaskType
        }
        # A provider without a key is excluded alike from every decision: one shared exclusion per
        # candidate (by identity: every candidate a decision walks is one of these), so its public
        # dict is built once, as the static exclusions' are.
        self._no_key: dict[int, Exclusion] = {
            id(c): Exclusion(c.provider, c.model, c.region, ExclusionReason.NO_KEY,
                             "no API key configured for this provider")
            for c in self.candidates
        }
        self._static: dict[StaticKey, StaticResult] = {}

    def _build_candidates(self) -> list[Candidate]:
        out: list[Candidate] = []
        for pname, provider in self.catalog.providers.items():
            deployments = provider.all_deployments()
            for model in provider.models:
                quality = {
                    task: self.quality_overlay.get((pname, model.name, task), score)
                    for task, score in model.quality.items()
                }
                for dep in deployments:
                    if model.deployments is not None and dep.name not in model.deployments:
                        continue
                    out.append(
                        Candidate(
                            provider=pname,
                            model=model.name,
                            deployment=dep.name,
                            region=dep.region,
                            input_price=model.input_price,
                            output_price=model.output_price,
                            blended_price=model.blended_price,
                            context_window=model.context_window,
                            max_output_tokens=model.max_output_tokens,
                            capabilities=model.capabilities,
                            quality=quality,
                            compliance=provider.compliance,
                            sla=provider.sla,
                        )
                    )
        return out

    def context_class(self, tokens: int) -> int:
        """Index of the first context class whose limit holds `tokens` (last one otherwise)."""
        for i, limit in enumerate(self.context_limits):
            if limit is None or tokens <= limit:
                return i
        return max(len(self.context_limits) - 1, 0)

    def no_key_exclusion(self, cand: Candidate) -> Exclusion:
        """The shared `no_key` exclusion of one of this index's candidates."""
        hit = self._no_key.get(id(cand))
        if hit is None or hit.model != cand.model or hit.provider != cand.provider:
            return Exclusion(cand.provider, cand.model, cand.region, ExclusionReason.NO_KEY,
                             "no API key configured for this provider")
        return hit

    def static(self, key: StaticKey) -> StaticResult:
        """The memoised static filtering and scoring for this combination of constraints."""
        hit = self._static.get(key)
        if hit is None:
            hit = self._static[key] = self._compute_static(key)
        return hit

    def _compute_static(self, key: StaticKey) -> StaticResult:
        catalog = self.catalog
        tier = catalog.budget_tiers[key.budget]
        ceiling = None if tier.max_blended_price is None else float(tier.max_blended_price)
        rule = catalog.regional_rules.get(key.region)
        required = rule.required_compliance if rule else frozenset()
        lists = self._preference_lists(key, tier.preferred_providers)
        preferences = {name: _preference(name, lists) for name in catalog.providers}
        weights = catalog.strategies[tier.strategy]
        log_ref = math.log1p(ceiling if ceiling is not None else float(self.max_price))
        excluded: list[Exclusion] = list(self.capability_exclusions[key.task])
        ranked: list[Scored] = []
        for cand in self.by_task[key.task]:
            rejection = _static_reject(cand, key, ceiling, required)
            if rejection is not None:
                reason, template, args = rejection
                excluded.append(Exclusion(cand.provider, cand.model, cand.region, reason,
                                          template, args))
                continue
            preference, sources = preferences[cand.provider]
            quality = cand.quality[key.task] / 10
            cost = 1.0 if log_ref == 0 else max(0.0, 1 - math.log1p(cand.blended_price_f) / log_ref)
            reliability = (cand.sla or 0.0) / 100
            score = (
                weights.preference * preference
                + weights.quality * quality
                + weights.cost * cost
                + weights.reliability * reliability
            )
            ranked.append(Scored(cand, round(score, 6), preference, quality, cost, reliability,
                                 sources))
        ranked.sort(key=lambda s: (-s.score, s.candidate.provider, s.candidate.model,
                                   s.candidate.deployment))
        return StaticResult(tuple(ranked), tuple(excluded), tier.strategy)

    def _preference_lists(
        self, key: StaticKey, budget_list: tuple[str, ...]
    ) -> list[tuple[str, float, tuple[str, ...]]]:
        """(label, weight, providers) for each preference list that applies to the request."""
        pw = self.catalog.preference_weights
        lists: list[tuple[str, float, tuple[str, ...]]] = []
        rule = self.catalog.regional_rules.get(key.region)
        if rule and rule.preferred_providers:
            lists.append((f"region {key.region.value}", pw.region, rule.preferred_providers))
        if self.catalog.context_classes:
            cls: ContextClass = self.catalog.context_classes[key.context_class]
            if cls.preferred_providers:
                lists.append((f"context class {cls.name}", pw.context, cls.preferred_providers))
        if budget_list:
            lists.append((f"budget tier {key.budget.value}", pw.budget, budget_list))
        task_list = self.catalog.task_preferences.get(key.task, ())
        if task_list:
            lists.append((f"task {key.task.value}", pw.task, task_list))
        total = sum(w for _, w, _ in lists)
        return [(label, w / total, names) for label, w, names in lists] if total else []


def _preference(
    provider: str, lists: list[tuple[str, float, tuple[str, ...]]]
) -> tuple[float, tuple[str, ...]]:
    """Weighted position of the provider in each list (first = 1), and the lists naming it."""
    value = 0.0
    sources: list[str] = []
    for label, weight, names in lists:
        if provider in names:
            pos = names.index(provider)
            value += weight * (1 - pos / len(names))
            sources.append(f"{label} #{pos + 1}")
    return value, tuple(sources)


def _static_reject(
    cand: Candidate,
    key: StaticKey,
    ceiling: float | None,
    required: frozenset[str],
) -> tuple[ExclusionReason, str, tuple[object, ...]] | None:
    """The first static constraint the candidate breaks (capability is bucketed earlier)."""
    if ceiling is not None and cand.blended_price_f > ceiling:
        return (ExclusionReason.BUDGET,
                "blended price ${:.4f}/M over the {} tier ceiling ${}/M",
                (cand.blended_price_f, key.budget.value, ceiling))
    if key.region is not Region.GLOBAL and cand.region is not key.region:
        return (ExclusionReason.REGION, "deployment {} is in {}, not {}",
                (cand.deployment, cand.region.value, key.region.value))
    if key.requires_compliance and not required <= cand.compliance:
        return (ExclusionReason.COMPLIANCE, "lacks {} required for {}",
                (", ".join(sorted(required - cand.compliance)), key.region.value))
    if key.requires_sla and cand.sla is None:
        return ExclusionReason.SLA, "provider offers no SLA", ()
    return None
