"""`create_app()`: the FastAPI service; resources are built in the lifespan, never at import."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app import __version__
from app.api import (
    admin,
    analytics,
    dashboard,
    execute,
    experiments,
    feedback,
    health_status,
    metrics,
    openai_compat,
    routing,
    system,
)
from app.api.body import install_openapi
from app.api.body_limit import BodySizeLimit
from app.api.errors import install_error_handlers
from app.api.fastpath import FastRoutes
from app.api.otel import telemetry_kwargs
from app.config.loader import load_catalog
from app.config.settings import Settings
from app.context import ServiceContext
from app.execution.schemas import ExecuteRequest
from app.experiments.policy import RoutingPolicy
from app.feedback.refresher import QualityRefresher
from app.health.runtime import start_health
from app.health.tracker import HealthTracker
from app.metrics import worker_exited
from app.openai_compat.wire import ChatCompletionRequest
from app.providers.pool import ProviderPool, default_ssl_context
from app.quality.estimator import DeferredEstimator
from app.routing.router import SmartLLMRouter, keyed_providers
from app.routing.schemas import RouteRequest
from app.store.lifecycle import open_store
from app.tenancy.edge import Edge
from app.tenancy.middleware import Authentication
from app.tenancy.openapi import document_security
from app.tenancy.provider_keys import watch_sighup
from app.tenancy.service import Tenancy
from app.tenancy.settings import TenancySettings

log = logging.getLogger("app")

DESCRIPTION = """Sends every AI request to the best LLM provider for its task, budget, context
size and region, with fallback, and explains each decision (`excluded`, `reasons`)."""


# Served by the direct dispatch (app/api/fastpath.py); each takes only the Request.
FAST_ENDPOINTS = (
    ("POST", routing.route_request),
    ("POST", execute.execute_request),
    ("POST", openai_compat.chat_completions),
)


def build_context(settings: Settings) -> ServiceContext:
    """Load the catalog (failing fast on a bad file) and build the router."""
    catalog = load_catalog(settings.router_config)
    router = SmartLLMRouter(catalog=catalog)
    return ServiceContext(
        settings=settings,
        catalog=catalog,
        router=router,
        keyed_providers=keyed_providers(catalog),
        policy=RoutingPolicy(router, DeferredEstimator()),
    )


WARM_UP_AFTER_S = 1.0
# Tracked objects allocated (net of those freed) before a young-generation collection; Python's
# default is 700. Under load the write-behind queue holds ~10 tracked objects a request (records,
# their chain lists and dicts) for a batch's ~0.1-0.3 s, so at 700 nearly every collection scanned
# them only to keep them (2,482 young collections in 12 s at concurrency 16, 0.47 s of CPU, almost
# nothing collected). Garbage cycles are never freed, so they still add up to a collection: at
# most this many objects wait for one. Same-run A/Bs (bench_ab.py), three runs: -3, -6 and -11 %
# CPU a request at concurrency 16, no change beyond the noise at 1.
YOUNG_COLLECTION_THRESHOLD = 10_000


def warm_up(ctx: ServiceContext) -> None:
    """Build, off the event loop once the service is up, what start-up need not wait for and the
    first requests would otherwise build: the providers' TLS context and the difficulty estimator
    (~0.1 s together here)."""
    # Best effort: whatever fails here fails again, and is reported, where it is first used; and
    # the lifespan's shutdown, which awaits this, must go on to flush the records.
    try:
        default_ssl_context()
    except Exception as exc:  # e.g. SSL_CERT_FILE names a missing file
        log.warning("the TLS context could not be built: %s", exc)
    try:
        if ctx.policy is not None and isinstance(ctx.policy.estimator, DeferredEstimator):
            ctx.policy.estimator.load()
    except Exception as exc:
        log.warning("the difficulty estimator could not be loaded: %s", exc)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service. Settings come from the environment unless given (tests give them)."""
    settings = settings or Settings()
    tenancy_options = TenancySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = build_context(settings)
        # SQLite is migrated here; a PostgreSQL schema behind the code stops start-up.
        store = await open_store(settings)
        ctx.store, ctx.recorder = store, store.recorder
        # One pooled client per provider; only providers we can call are routed to. A credential
        # chain still resolving after PREPARE_AT_START_S does not hold the port closed: its provider
        # joins the routed ones when it is done.
        def routable(pool: ProviderPool) -> None:
            ctx.keyed_providers = pool.available()

        ctx.providers = await ProviderPool.open(ctx.catalog, on_prepared=routable)
        ctx.keyed_providers = ctx.providers.available()
        # Breakers shared through Redis when REDIS_URL is set; probes, snapshots, cost alerts.
        ctx.health = HealthTracker(ctx.catalog)
        health = await start_health(ctx.health, ctx.catalog, settings, store=store)
        # API keys, budgets and rate limits; the budget sweeper runs until shutdown.
        ctx.tenancy = await Tenancy.open(settings, store.sessions, tenancy_options)
        stop_watching_keys = watch_sighup(ctx)  # SIGHUP re-reads provider keys
        # Learned quality estimates, refreshed in the background into the routing index.
        if ctx.policy is not None:
            ctx.quality = QualityRefresher(store.sessions, ctx.catalog, ctx.policy.apply_overlay)
            await ctx.quality.start()
        app.state.ctx = ctx
        if not settings.auth_enabled:
            log.warning("authentication is OFF: ROUTER_MASTER_KEY is not set, so every request is served "
                        "without a key; listen on loopback only (local development and the demo)")
        # What start-up built lives as long as the process: keep the cyclic GC from rescanning it
        # (records waiting in the write-behind queue otherwise trigger full collections of it).
        # `llm-router serve` starts with the collector off (app/cli.py): on from here.
        gc.freeze()
        thresholds = gc.get_threshold()
        gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *thresholds[1:])
        gc.enable()
        # After the port has opened (uvicorn binds it once this lifespan yields): in a thread, but
        # JSON parsing holds the GIL, so started at once it delayed the port by ~0.1 s.
        loop = asyncio.get_running_loop()
        warming: list[asyncio.Future[None]] = []
        later = loop.call_later(WARM_UP_AFTER_S, lambda: warming.append(
            loop.run_in_executor(None, warm_up, ctx)))
        try:
            yield
        finally:
            later.cancel()
            for job in warming:
                await job
            stop_watching_keys()
            if ctx.quality is not None:
                await ctx.quality.stop()
            await ctx.tenancy.aclose()
            await health.stop()
            await ctx.providers.aclose()
            # uvicorn has drained requests in flight: flush against the deadline, spool the rest.
            await store.close()
            worker_exited()
            gc.set_threshold(*thresholds)

    app = FastAPI(
        title="Smart LLM Router",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        **telemetry_kwargs(os.environ),
    )
    install_error_handlers(app)
    install_openapi(app, RouteRequest, ExecuteRequest, ChatCompletionRequest)
    document_security(app, tenancy_options.public_paths)
    app.include_router(system.router)
    app.include_router(routing.router)
    app.include_router(execute.router)
    app.include_router(openai_compat.router)
    app.include_router(health_status.router)
    app.include_router(metrics.router)
    app.include_router(admin.router)
    app.include_router(admin.me_router)
    app.include_router(analytics.router)
    app.include_router(feedback.router)
    app.include_router(experiments.router)
    dashboard.install(app)
    # Innermost: the hot endpoints skip the router and dependency solving, not the middlewares.
    app.add_middleware(FastRoutes, service=app, endpoints=FAST_ENDPOINTS)
    # Inside CORS (so 401s carry CORS headers and preflights pass), outside everything else.
    app.add_middleware(Authentication, enabled=settings.auth_enabled,
                       public_paths=tenancy_options.public_paths)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=["x-router-decision-id", "x-router-provider", "x-router-model"],
        )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(Edge, max_in_flight=tenancy_options.max_in_flight,
                       public_paths=tenancy_options.public_paths)
    return app
