"""The resources one service process holds, built in the lifespan and handed to requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.config.catalog import Catalog
from app.config.settings import Settings
from app.routing.router import SmartLLMRouter


@dataclass
class ServiceContext:
    """Everything a request may use; nothing here is opened at import time."""

    settings: Settings
    catalog: Catalog
    router: SmartLLMRouter
    keyed_providers: frozenset[str]
    extras: dict[str, Any] = field(default_factory=dict)
