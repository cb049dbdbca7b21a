"""`SmartLLMRouter`: the library interface of the design note, over the pure engine."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.config.catalog import Catalog
from app.config.enums import BudgetTier, Region, TaskType
from app.config.loader import load_catalog
from app.routing.engine import HealthSnapshot, decide
from app.routing.index import CatalogIndex
from app.routing.schemas import ProviderHealth, RouteRequest, RoutingDecision
from app.routing.tokens import estimate_message_tokens, estimate_text_tokens

if TYPE_CHECKING:
    from app.execution.result import ExecutionResult

_FROM_ENV = object()


def keyed_providers(catalog: Catalog, environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """Providers whose key variable is set (non-empty) in the environment."""
    env = os.environ if environ is None else environ
    return frozenset(name for name, p in catalog.providers.items() if env.get(p.api_key_env))


def input_tokens_for(request: RouteRequest, chars_per_token: float) -> int:
    """`context_size` when given, else an estimate from the prompt or messages, else 0."""
    if request.context_size is not None:
        return request.context_size
    if request.prompt is not None:
        return estimate_text_tokens(request.prompt, chars_per_token)
    if request.messages is not None:
        # Only the content counts: no copy of each message (model_dump) to read it.
        return estimate_message_tokens(({"content": m.content} for m in request.messages), chars_per_token)
    return 0


class SmartLLMRouter:
    """Routes requests against a catalog; use `route_request` as the design note shows."""

    def __init__(
        self,
        config_path: str | os.PathLike[str] | None = None,
        *,
        catalog: Catalog | None = None,
        check_keys: bool = True,
    ) -> None:
        self.catalog = catalog or load_catalog(Path(config_path) if config_path else None)
        self.index = CatalogIndex(self.catalog)
        self.check_keys = check_keys
        self.health: dict[str, ProviderHealth] = {}

    def decide(
        self,
        request: RouteRequest,
        *,
        health: HealthSnapshot | None = None,
        keyed: Collection[str] | object | None = _FROM_ENV,
        decision_id: str | None = None,
        index: CatalogIndex | None = None,
        quality_target: float | None = None,
        strong_win_rate: float | None = None,
    ) -> RoutingDecision:
        """Synchronous routing of a validated request (the service's path).

        `keyed` is the set of providers with a key; by default it is read from the environment
        (when the router checks keys), `None` routes as if every provider had one. `index`
        (an experiment arm's) replaces the router's own; `quality_target` the request's; the
        prompt's `strong_win_rate` comes from a difficulty estimator run beforehand.
        """
        if keyed is _FROM_ENV:
            keyed = keyed_providers(self.catalog) if self.check_keys else None
        return decide(
            index or self.index,
            task_type=request.task_type,
            budget=request.budget,
            input_tokens=input_tokens_for(request, self.catalog.defaults.chars_per_token),
            output_tokens=request.expected_output_tokens,
            region=request.region,
            requires_sla=request.requires_sla,
            requires_compliance=request.requires_compliance,
            health=self.health if health is None else health,
            keyed_providers=keyed,  # type: ignore[arg-type]
            decision_id=decision_id,
            tenant=request.tenant,
            user=request.user,
            quality_target=request.quality_target if quality_target is None else quality_target,
            strong_win_rate=strong_win_rate,
        )

    async def route_request(
        self,
        task_type: TaskType = TaskType.CHAT,
        budget: BudgetTier = BudgetTier.MEDIUM,
        context_size: int = 1000,
        region: Region = Region.GLOBAL,
        requires_sla: bool = False,
        requires_compliance: bool = False,
        *,
        expected_output_tokens: int | None = None,
        prompt: str | None = None,
    ) -> RoutingDecision:
        """Route one request; raises NoEligibleProvider (with `details['excluded']`) if none fit."""
        request = RouteRequest(
            task_type=task_type,
            budget=budget,
            context_size=None if prompt is not None else context_size,
            prompt=prompt,
            region=region,
            requires_sla=requires_sla,
            requires_compliance=requires_compliance,
            expected_output_tokens=expected_output_tokens,
        )
        return self.decide(request)

    async def execute_with_fallback(
        self, routing_decision: RoutingDecision, execution_func: Any = None, **kwargs: Any
    ) -> ExecutionResult:
        """Run the decision's chain with fallback (app.execution.execute_with_fallback, this catalog)."""
        from app.execution.library import execute_with_fallback  # routing itself stays free of I/O

        kwargs.setdefault("catalog", self.catalog)
        return await execute_with_fallback(routing_decision, execution_func, **kwargs)
