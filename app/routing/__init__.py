"""Pure routing: the catalog index, the engine and the library's `SmartLLMRouter`."""

from app.config.enums import BudgetTier, ExclusionReason, Region, Strategy, TaskType
from app.routing.engine import decide
from app.routing.index import CatalogIndex
from app.routing.router import SmartLLMRouter
from app.routing.schemas import ProviderHealth, RouteRequest, RoutingDecision

__all__ = [
    "BudgetTier",
    "CatalogIndex",
    "ExclusionReason",
    "ProviderHealth",
    "Region",
    "RouteRequest",
    "RoutingDecision",
    "SmartLLMRouter",
    "Strategy",
    "TaskType",
    "decide",
]
