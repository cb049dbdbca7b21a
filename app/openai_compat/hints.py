"""Routing hints for an OpenAI request: extra body fields win, then `X-Router-*` headers, then
inference from the messages (task) and the tenant's default budget."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from app.config.enums import BudgetTier, Region, TaskType
from app.errors import BadRequest
from app.openai_compat.inference import infer_task
from app.openai_compat.wire import ChatCompletionRequest
from app.routing.schemas import RouteRequest
from app.tenancy.principal import current

HEADERS = {
    "task_type": "x-router-task",
    "budget": "x-router-budget",
    "region": "x-router-region",
    "requires_sla": "x-router-requires-sla",
    "requires_compliance": "x-router-requires-compliance",
}
PREFIX = b"x-router-"
FALLBACK_BUDGET = BudgetTier.MEDIUM
TRUE, FALSE = frozenset({"true", "1", "yes"}), frozenset({"false", "0", "no"})

E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True, slots=True)
class Hints:
    """The constraints to route with, and where the task and budget came from."""

    task: TaskType
    task_source: str
    budget: BudgetTier
    budget_source: str
    region: Region
    requires_sla: bool
    requires_compliance: bool

    def route_request(self, body: ChatCompletionRequest) -> RouteRequest:
        """The routing request: these constraints, the messages (for the token count) and the cap."""
        return RouteRequest(
            task_type=self.task, budget=self.budget, region=self.region,
            requires_sla=self.requires_sla, requires_compliance=self.requires_compliance,
            messages=body.messages, expected_output_tokens=body.output_cap, user=body.user,
        )


def hint_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """A request's `X-Router-*` headers by name (the first of a repeated one), from its ASGI
    headers (names lowercase) in one pass: the five lookups of `resolve_hints` each scanned
    every header of the request through Starlette's `Headers`."""
    found: dict[str, str] = {}
    for name, value in raw:
        if name.startswith(PREFIX):
            found.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return found


def resolve_hints(body: ChatCompletionRequest, headers: Mapping[str, str]) -> Hints:
    """Body fields, else headers, else inferred (task) or the tenant's default (budget)."""
    task, task_source = body.task_type, "body"
    if task is None:
        task, task_source = _header_enum(headers, "task_type", TaskType), "header"
    if task is None:
        inferred = infer_task(body.messages)
        task, task_source = inferred.task, f"inferred:{inferred.rule}"
    budget, budget_source = body.budget, "body"
    if budget is None:
        budget, budget_source = _header_enum(headers, "budget", BudgetTier), "header"
    if budget is None:
        budget, budget_source = tenant_default_budget()
    region = body.region or _header_enum(headers, "region", Region) or Region.GLOBAL
    sla = body.requires_sla if body.requires_sla is not None else _header_bool(headers, "requires_sla")
    compliance = (body.requires_compliance if body.requires_compliance is not None
                  else _header_bool(headers, "requires_compliance"))
    return Hints(task, task_source, budget, budget_source, region, sla, compliance)


def tenant_default_budget() -> tuple[BudgetTier, str]:
    """The calling tenant's default tier, else `medium`."""
    principal = current.get()
    tenant = principal.tenant if principal is not None else None
    if tenant is not None:
        try:
            return BudgetTier(tenant.default_budget), "tenant"
        except ValueError:
            pass
    return FALLBACK_BUDGET, "default"


def _header_enum(headers: Mapping[str, str], field: str, enum: type[E]) -> E | None:
    raw = headers.get(HEADERS[field])
    if raw is None or not raw.strip():
        return None
    try:
        return enum(raw.strip().lower())
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise BadRequest(f"header {HEADERS[field]}: {raw!r} is not one of {allowed}",
                         details={"param": HEADERS[field], "allowed": [m.value for m in enum]}) from None


def _header_bool(headers: Mapping[str, str], field: str) -> bool:
    raw = (headers.get(HEADERS[field]) or "").strip().lower()
    if not raw or raw in FALSE:
        return False
    if raw in TRUE:
        return True
    raise BadRequest(f"header {HEADERS[field]}: {raw!r} is not true or false",
                     details={"param": HEADERS[field], "allowed": ["true", "false"]})
