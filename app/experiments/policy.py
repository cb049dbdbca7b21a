"""The routing policy of one request: its experiment arm, index, quality target and difficulty.

Built once at start-up. The quality refresher hands it each new overlay; it rebuilds the main
index and every arm's index aside and swaps them in, so routing itself stays pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.config.catalog import Catalog, Experiment, ExperimentVariant
from app.experiments.assignment import assign, label, unit_of
from app.feedback.estimates import Key
from app.quality.estimator import DifficultyEstimator
from app.routing.index import CatalogIndex
from app.routing.router import SmartLLMRouter
from app.routing.schemas import ChatMessage, RouteRequest

# The estimator reads this much of the prompt: difficulty shows early, and it sits on the hot path.
MAX_ESTIMATE_CHARS = 16_000


@dataclass(frozen=True, slots=True)
class Resolved:
    """What the router is called with for one request."""

    variant: str | None
    index: CatalogIndex | None
    quality_target: float | None
    strong_win_rate: float | None


def prompt_text(prompt: str | None, messages: Iterable[ChatMessage] | None) -> str:
    """The text a difficulty estimate reads: the prompt, or the user messages' text."""
    if prompt is not None:
        return prompt[:MAX_ESTIMATE_CHARS]
    parts: list[str] = []
    for m in messages or ():
        if m.role != "user":
            continue
        if isinstance(m.content, str):
            parts.append(m.content)
        elif isinstance(m.content, list):
            parts.extend(str(p.get("text", "")) for p in m.content if p.get("type") == "text")
    return "\n".join(parts)[:MAX_ESTIMATE_CHARS]


def arm_catalog(catalog: Catalog, variant: ExperimentVariant) -> Catalog | None:
    """The catalog an arm routes with (overrides merged, strategy on every tier), None for the base."""
    if variant.strategy is None and not variant.catalog_overrides:
        return None
    return catalog.for_variant(variant)


class RoutingPolicy:
    """Resolves a request's policy; owns the swap of the router's index on new estimates."""

    def __init__(self, router: SmartLLMRouter, estimator: DifficultyEstimator | None) -> None:
        self.router = router
        self.catalog = router.catalog
        self.estimator = estimator
        self.experiment: Experiment | None = next(
            (e for e in self.catalog.experiments if e.enabled), None)
        self._arm_catalogs: dict[str, Catalog] = {}
        if self.experiment is not None:
            for v in self.experiment.variants:
                c = arm_catalog(self.catalog, v)
                if c is not None:
                    self._arm_catalogs[v.name] = c
        self.overlay: dict[Key, float] = {}
        self._arm_indexes = {name: CatalogIndex(c) for name, c in self._arm_catalogs.items()}

    def apply_overlay(self, overlay: dict[Key, float]) -> None:
        """New quality estimates: build every index aside, then swap each in with one assignment."""
        main = CatalogIndex(self.catalog, quality_overlay=overlay)
        arms = {name: CatalogIndex(c, quality_overlay=overlay)
                for name, c in self._arm_catalogs.items()}
        self.router.index, self._arm_indexes, self.overlay = main, arms, overlay

    def resolve(self, request: RouteRequest, request_id: str) -> Resolved:
        """The arm (if an experiment runs), its index and target, and the prompt's difficulty."""
        variant_label: str | None = None
        index: CatalogIndex | None = None
        target = request.quality_target
        if self.experiment is not None:
            unit = unit_of(self.experiment, tenant=request.tenant, request_id=request_id)
            variant = assign(self.experiment, unit)
            variant_label = label(self.experiment, variant)
            index = self._arm_indexes.get(variant.name)
            if target is None:
                target = variant.quality_target
        rate: float | None = None
        if target is not None and self.estimator is not None:
            rate = self.estimator.strong_win_rate(prompt_text(request.prompt, request.messages))
        return Resolved(variant_label, index, target, rate)
