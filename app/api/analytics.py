"""`/api/brain/ai-assistant/analytics/*`: provider stats, costs, tasks, fallbacks, decisions,
recommendations and export. Thin: parse, call RoutingAnalytics, answer.

The tenant comes from the caller's credential when tenancy has set `request.state.principal`
(a tenant key sees only its own records, whatever it asks for); the admin, or anyone when
authentication is off, may narrow to one tenant with `?tenant=`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response, StreamingResponse

from app.analytics.options import DEFAULT_RECOMMENDATION_HOURS, MEDIA_TYPES, ExportFormat, ProviderOrder
from app.analytics.window import MAX_WINDOW_HOURS, MIN_WINDOW_HOURS, Window
from app.api.deps import ContextDep
from app.api.errors import json_response
from app.config.enums import TaskType
from app.context import ServiceContext
from app.errors import InputInvalid, NotFound
from app.records import DecisionStatus

if TYPE_CHECKING:
    from app.analytics.library import RoutingAnalytics

router = APIRouter(prefix="/api/brain/ai-assistant/analytics", tags=["analytics"])

WindowHours = Annotated[int, Query(ge=MIN_WINDOW_HOURS, le=MAX_WINDOW_HOURS,
                                   description="the last N hours (1 to 2160)")]
TenantParam = Annotated[str | None, Query(max_length=128, description="admin only: one tenant")]


def analytics_of(ctx: ServiceContext) -> RoutingAnalytics:
    """The context's RoutingAnalytics, built on first use (the store opens in the lifespan).

    Its reports and their SQL are imported then too: the service starts without them."""
    from app.analytics.library import RoutingAnalytics

    found = ctx.extras.get("analytics")
    if isinstance(found, RoutingAnalytics):
        return found
    if ctx.store is None:
        raise RuntimeError("the store is not open (the lifespan opens it)")
    made = RoutingAnalytics(ctx.store.sessions, catalog=ctx.catalog, index=ctx.router.index,
                            recorder=ctx.recorder, keyed=ctx.keyed_providers)
    ctx.extras["analytics"] = made
    return made


async def caller_tenant(request: Request, tenant: TenantParam = None) -> str | None:
    """The tenant whose records this request may see (None: all of them)."""
    principal = getattr(request.state, "principal", None)
    if principal is not None and getattr(principal, "restricted", False):
        own: str | None = getattr(principal, "tenant_name", None)
        return own
    return tenant


TenantDep = Annotated[str | None, Depends(caller_tenant)]


def _known_provider(ctx: ServiceContext, name: str, field: str) -> None:
    if name not in ctx.catalog.providers:
        raise InputInvalid(f"{field}: unknown provider {name!r}", details={"fields": [
            {"field": field, "message": "unknown provider", "allowed": sorted(ctx.catalog.providers)}]})


@router.get("/providers", summary="Every provider's requests, success rate, latency, cost and quality")
async def providers(ctx: ContextDep, tenant: TenantDep, window_hours: WindowHours = 24,
                    order_by: ProviderOrder = ProviderOrder.REQUESTS) -> Response:
    """Per provider over the window; `p95_method` says whether p95 is exact or from histograms."""
    items = await analytics_of(ctx).get_providers(time_window_hours=window_hours, tenant=tenant,
                                                  order_by=order_by)
    return json_response({"window_hours": window_hours, "providers": items})


@router.get("/providers/{name}", summary="One provider's figures, with a breakdown per model")
async def provider(ctx: ContextDep, tenant: TenantDep,
                   name: Annotated[str, Path(max_length=64)], window_hours: WindowHours = 24) -> Response:
    """SPEC section 7's provider record (zeros when it had no traffic); 404 for an unknown provider."""
    if name not in ctx.catalog.providers:
        raise NotFound(f"no provider {name!r}", details={"known": sorted(ctx.catalog.providers)})
    out = await analytics_of(ctx).get_provider_analytics(name, time_window_hours=window_hours, tenant=tenant)
    out.pop("avg_response_time", None)
    out.pop("total_cost", None)
    return json_response({"window_hours": window_hours, **out})


@router.get("/costs", summary="Total cost, the baseline's cost for the same tokens, savings, breakdowns")
async def costs(ctx: ContextDep, tenant: TenantDep, window_hours: WindowHours = 24) -> Response:
    """Exact sums of the per-attempt cost ledger, by provider, task, tenant and day."""
    out = await analytics_of(ctx).get_cost_analysis(time_window_hours=window_hours, tenant=tenant)
    for alias in ("total_cost", "provider_breakdown", "savings_vs_baseline"):
        out.pop(alias, None)
    return json_response(out)


@router.get("/tasks", summary="Decisions and executed requests per task")
async def tasks(ctx: ContextDep, tenant: TenantDep, window_hours: WindowHours = 24) -> Response:
    return json_response(await analytics_of(ctx).get_task_distribution(window_hours, tenant=tenant))


@router.get("/fallbacks", summary="How often each provider was reached as a fallback, and why others failed")
async def fallbacks(ctx: ContextDep, tenant: TenantDep, window_hours: WindowHours = 24,
                    task_type: TaskType | None = None) -> Response:
    out = await analytics_of(ctx).get_fallbacks(
        window_hours, tenant=tenant, task_type=None if task_type is None else task_type.value)
    return json_response(out)


@router.get("/decisions", summary="Decisions, newest first, each with its chain, exclusions and attempts")
async def decisions(
    ctx: ContextDep, tenant: TenantDep, window_hours: WindowHours = 24,
    since: dt.datetime | None = None, until: dt.datetime | None = None,
    task_type: TaskType | None = None, provider: Annotated[str | None, Query(max_length=64)] = None,
    outcome: DecisionStatus | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """`since`/`until` (ISO 8601 with a zone) override the window; `next_cursor` pages on."""
    end = _aware(until, "until") or dt.datetime.now(dt.UTC)
    start = _aware(since, "since") or end - dt.timedelta(hours=window_hours)
    if start >= end:
        raise InputInvalid("since must be before until", details={"fields": [
            {"field": "since", "message": "must be before until"}]})
    if provider is not None:
        _known_provider(ctx, provider, "provider")
    out = await analytics_of(ctx).get_decisions(
        Window(start, end), tenant=tenant, task_type=None if task_type is None else task_type.value,
        provider=provider, status=None if outcome is None else outcome.value, limit=limit, cursor=cursor)
    return json_response(out)


@router.get("/recommendations", summary="Top performers, cost-effective choices, problems, routing changes")
async def recommendations(ctx: ContextDep, tenant: TenantDep,
                          window_hours: WindowHours = DEFAULT_RECOMMENDATION_HOURS) -> Response:
    """Each recommendation has a `message` and the `figures` behind it."""
    items = await analytics_of(ctx).recommendation_report(window_hours, tenant=tenant)
    return json_response({"window_hours": window_hours, "recommendations": items,
                          "messages": [r["message"] for r in items]})


@router.get("/export", summary="Export the summary and, with include_raw_data, every decision (streamed)",
            responses={200: {"description": "The export in the asked format",
                             "content": {media.split(";")[0]: {} for media in MEDIA_TYPES.values()}}})
async def export(ctx: ContextDep, tenant: TenantDep, window_hours: WindowHours = 24,
                 format: ExportFormat = ExportFormat.JSON, include_raw_data: bool = False) -> Response:
    """json, csv, or ndjson in the Elasticsearch bulk format; streamed in constant memory."""
    stream = analytics_of(ctx).export_stream(format=format.value, include_raw_data=include_raw_data,
                                             time_window_hours=window_hours, tenant=tenant)
    filename = f"llm-router-analytics-{window_hours}h.{format.value}"
    return StreamingResponse(stream, media_type=MEDIA_TYPES[format],
                             headers={"content-disposition": f'attachment; filename="{filename}"'})


def _aware(value: dt.datetime | None, field: str) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise InputInvalid(f"{field}: give a time zone (e.g. 2025-01-31T12:00:00Z)", details={
            "fields": [{"field": field, "message": "naive datetime"}]})
    return value.astimezone(dt.UTC)


