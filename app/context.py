"""The resources one service process holds, built in the lifespan and handed to requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.config.catalog import Catalog
from app.config.settings import Settings
from app.records import DiscardingSink, RecordSink
from app.routing.router import SmartLLMRouter

if TYPE_CHECKING:
    from app.experiments.policy import RoutingPolicy
    from app.feedback.refresher import QualityRefresher
    from app.health.tracker import HealthTracker
    from app.providers.pool import ProviderPool
    from app.store.lifecycle import Store
    from app.tenancy.service import Tenancy


@dataclass
class ServiceContext:
    """Everything a request may use; nothing here is opened at import time."""

    settings: Settings
    catalog: Catalog
    router: SmartLLMRouter
    keyed_providers: frozenset[str]
    extras: dict[str, Any] = field(default_factory=dict)
    # Where decisions and attempts go (the store's writer; never blocks). `store` gives the
    # engine and session factory to analytics and tenancy; None until the lifespan opens it.
    recorder: RecordSink = field(default_factory=DiscardingSink)
    store: Store | None = None
    # One pooled client per provider (app/providers); None until the lifespan opens it.
    providers: ProviderPool | None = None
    # Per-provider health the router reads and every attempt feeds (app/health; a HealthSource).
    health: HealthTracker | None = None
    # Keys, budgets and rate limits (app/tenancy); None until the lifespan opens it.
    tenancy: Tenancy | None = None
    # Experiment arm, quality target and difficulty per request; owns the quality-overlay swap
    # (app/experiments/policy.py). `quality` refreshes the learned estimates (app/feedback).
    policy: RoutingPolicy | None = None
    quality: QualityRefresher | None = None
