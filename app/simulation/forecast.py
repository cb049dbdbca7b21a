"""Dry run: decisions only, no calls, to forecast a catalog or policy's cost on a workload."""

from __future__ import annotations

from collections.abc import Iterable

from app.config.catalog import Catalog
from app.errors import NoEligibleProvider
from app.routing.router import SmartLLMRouter
from app.routing.schemas import RouteRequest
from app.simulation.report import REJECTED, SUCCEEDED, Attempt, RequestResult
from app.simulation.workload import WorkloadItem


def route_request(item: WorkloadItem) -> RouteRequest:
    """The route request a workload item stands for."""
    return RouteRequest(
        task_type=item.task, budget=item.budget, region=item.region, context_size=item.context_tokens,
        expected_output_tokens=item.output_tokens, requires_sla=item.requires_sla,
        requires_compliance=item.requires_compliance, tenant=item.tenant,
    )


def forecast(items: Iterable[WorkloadItem], catalog: Catalog) -> list[RequestResult]:
    """Each item's decision priced at its primary's estimate (every provider counts as keyed and healthy)."""
    router = SmartLLMRouter(catalog=catalog, check_keys=False)
    results: list[RequestResult] = []
    for item in items:
        try:
            decision = router.decide(route_request(item), keyed=None)
        except NoEligibleProvider:
            results.append(RequestResult(budget=item.budget.value, status=REJECTED))
            continue
        results.append(RequestResult(
            budget=item.budget.value, status=SUCCEEDED,
            cost_usd=float(decision.estimated_cost_usd), baseline_cost_usd=float(decision.baseline_cost_usd),
            provider=decision.primary_provider,
            attempts=[Attempt(decision.primary_provider, "success")],
        ))
    return results
