"""One handler per error family, all answering the envelope {"error": {code, message, details}}."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.api.body_limit import BodyTooLarge
from app.errors import RouterError

log = logging.getLogger(__name__)


def json_default(value: Any) -> Any:
    # Decimal bounds of a validation error (e.g. a USD limit's `ge`) must not turn a 422 into a 500.
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_response(body: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response serialised with orjson (the request path's one serialiser)."""
    return Response(
        orjson.dumps(body, default=json_default), status_code=status_code, headers=headers,
        media_type="application/json",
    )


def error_response(code: str, message: str, status_code: int, details: Any = None,
                   headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return json_response(body, status_code, headers)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        item: dict[str, Any] = {
            "field": ".".join(p for p in loc if p != "body") or "body",
            "message": err.get("msg", "invalid"),
            "type": err.get("type"),
        }
        ctx = err.get("ctx") or {}
        if "expected" in ctx:
            item["allowed"] = [v.strip().strip("'") for v in
                               str(ctx["expected"]).replace(" or ", ", ").split(",")]
        for bound in ("ge", "le", "gt", "lt", "max_length", "min_length"):
            if bound in ctx:
                item[bound] = ctx[bound]
        out.append(item)
    return out


def install_error_handlers(app: FastAPI) -> None:
    """Every error, ours or the framework's, leaves in the same envelope."""

    @app.exception_handler(RouterError)
    async def _router_error(_: Request, exc: RouterError) -> Response:
        return json_response(exc.envelope(), exc.status_code, exc.headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        fields = _field_errors(exc)
        first = fields[0] if fields else {"field": "body", "message": "invalid"}
        message = f"{first['field']}: {first['message']}"
        if "allowed" in first:
            message += f" (allowed: {', '.join(first['allowed'])})"
        return error_response("invalid_request", message, 422, {"fields": fields})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc, BodyTooLarge):
            return error_response("payload_too_large", exc.detail, 413,
                                  {"max_bytes": exc.max_bytes})
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(code, str(exc.detail), exc.status_code,
                              headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response("internal_error", "internal error; it has been logged", 500)
