"""The control API under /_control: fault settings per provider, request counters, reset."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from app.simulator.faults import FaultSettings
from app.simulator.providers import DIALECTS
from app.simulator.state import SimulatorState


def control_json(body: Any, status: int = 200) -> Response:
    """A JSON answer of the control API."""
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def control_error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    """The router's error envelope, reused for the control API: {"error": {code, message, details}}."""
    return control_json({"error": {"code": code, "message": message, "details": details or {}}}, status)


def _unknown(provider: str) -> Response:
    return control_error(
        404,
        "unknown_provider",
        f"the simulator has no provider {provider!r}",
        {"providers": sorted(DIALECTS)},
    )


def _validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"], "type": e["type"]}
        for e in exc.errors()
    ]


def control_routes(state: SimulatorState) -> list[BaseRoute]:
    """The /_control routes bound to one simulator's state."""

    async def list_settings(request: Request) -> Response:
        return control_json({"providers": state.all_settings()})

    async def get_settings(request: Request) -> Response:
        provider = request.path_params["provider"]
        if provider not in DIALECTS:
            return _unknown(provider)
        return control_json({"provider": provider, "settings": state.settings(provider).public()})

    async def put_settings(request: Request) -> Response:
        provider = request.path_params["provider"]
        if provider not in DIALECTS:
            return _unknown(provider)
        raw = await request.body()
        try:
            settings = FaultSettings.model_validate_json(raw or b"{}")
        except ValidationError as exc:
            return control_error(
                422,
                "invalid_fault_settings",
                "the fault settings are invalid; an empty object restores health",
                {"errors": _validation_errors(exc)},
            )
        state.configure(provider, settings)
        return control_json({"provider": provider, "settings": settings.public()})

    async def stats(request: Request) -> Response:
        return control_json(state.stats())

    async def reset(request: Request) -> Response:
        state.reset()
        return control_json({"status": "reset", "providers": state.all_settings()})

    return [
        Route("/_control/providers", list_settings, methods=["GET"]),
        Route("/_control/providers/{provider}", get_settings, methods=["GET"]),
        Route("/_control/providers/{provider}", put_settings, methods=["PUT"]),
        Route("/_control/stats", stats, methods=["GET"]),
        Route("/_control/reset", reset, methods=["POST"]),
    ]
