"""The simulator ASGI application: every provider's real paths under /{provider}, plus /_control."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from app.config.catalog import Catalog
from app.simulator.anthropic_wire import AnthropicDialect
from app.simulator.bedrock_wire import BedrockDialect
from app.simulator.cohere_wire import CohereDialect
from app.simulator.control import control_error, control_routes
from app.simulator.exchange import TRANSPORT_KEY, Exchange
from app.simulator.faults import FaultProfile, load_profile, parse_profile
from app.simulator.gemini_wire import GeminiDialect, VertexDialect
from app.simulator.openai_wire import AzureDialect, OpenAIDialect
from app.simulator.providers import OPENAI_PREFIXES, ModelTable
from app.simulator.state import SimulatorState

ProfileSource = FaultProfile | Mapping[str, Any] | str | Path | None


class SimulatorApp:
    """The ASGI entry point; hands each request its connection's transport so faults can reset it."""

    def __init__(self, app: Starlette, state: SimulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # uvicorn passes its per-request cycle's bound `send`; the cycle owns the transport.
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            if transport is not None:
                scope[TRANSPORT_KEY] = transport
        await self.app(scope, receive, send)


def provider_routes(state: SimulatorState) -> list[BaseRoute]:
    """Each provider's real chat (and model list) paths, under /{provider}."""
    openai, azure, anthropic = OpenAIDialect(), AzureDialect(), AnthropicDialect()
    gemini, vertex, cohere, bedrock = GeminiDialect(), VertexDialect(), CohereDialect(), BedrockDialect()
    routes: list[BaseRoute] = []
    for provider, prefixes in OPENAI_PREFIXES.items():
        for prefix in prefixes:
            base = f"/{provider}{prefix}"
            routes += [
                Route(f"{base}/chat/completions", Exchange(state, provider, openai), methods=["POST"]),
                Route(
                    f"{base}/models", Exchange(state, provider, openai, operation="models"), methods=["GET"]
                ),
            ]
    vertex_models = "/vertex_ai/{version}/projects/{project}/locations/{location}/publishers/google/models"
    routes += [
        Route(
            "/azure_openai/openai/deployments/{deployment}/chat/completions",
            Exchange(state, "azure_openai", azure),
            methods=["POST"],
        ),
        Route(
            "/azure_openai/openai/v1/chat/completions",
            Exchange(state, "azure_openai", azure),
            methods=["POST"],
        ),
        Route("/anthropic/v1/messages", Exchange(state, "anthropic", anthropic), methods=["POST"]),
        Route(
            "/anthropic/v1/models",
            Exchange(state, "anthropic", anthropic, operation="models"),
            methods=["GET"],
        ),
        Route("/gemini/{version}/models/{target}", Exchange(state, "gemini", gemini), methods=["POST"]),
        Route(
            "/gemini/{version}/models", Exchange(state, "gemini", gemini, operation="models"), methods=["GET"]
        ),
        Route(vertex_models + "/{target}", Exchange(state, "vertex_ai", vertex), methods=["POST"]),
        Route("/cohere/v2/chat", Exchange(state, "cohere", cohere), methods=["POST"]),
        Route("/cohere/v1/models", Exchange(state, "cohere", cohere, operation="models"), methods=["GET"]),
        Route(
            "/bedrock/model/{model_id:path}/converse", Exchange(state, "bedrock", bedrock), methods=["POST"]
        ),
        Route(
            "/bedrock/model/{model_id:path}/converse-stream",
            Exchange(state, "bedrock", bedrock),
            methods=["POST"],
        ),
    ]
    return routes


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    code = {404: "not_found", 405: "method_not_allowed"}.get(status, "error")
    return control_error(status, code, f"no simulated endpoint answers {request.method} {request.url.path}")


def create_simulator_app(
    profile: ProfileSource = None,
    seed: int = 0,
    *,
    catalog: Catalog | None = None,
) -> SimulatorApp:
    """The simulator: faults from `profile` (FaultProfile, mapping or YAML/JSON file), draws seeded by `seed`.

    Model limits and model lists come from `catalog` (default: the configured catalog file).
    """
    fault_profile = load_profile(profile) if isinstance(profile, str | Path) else parse_profile(profile)
    if catalog is None:
        from app.config.loader import load_catalog

        catalog = load_catalog()
    state = SimulatorState(fault_profile, seed=seed, models=ModelTable(catalog))
    starlette = Starlette(
        routes=[*provider_routes(state), *control_routes(state)],
        exception_handlers={HTTPException: _http_error},
    )
    return SimulatorApp(starlette, state)
