"""Errors in OpenAI's shape, {"error": {"message", "type", "param", "code"}}, so the SDKs raise
the right exception (BadRequestError, NotFoundError, RateLimitError ...) with our message.

This API's error body differs from the service's envelope on purpose: OpenAI clients parse it.
`details` rides along inside `error` (the SDKs keep unknown keys on `exc.body`).
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError
from starlette.responses import Response

from app.errors import NotFound, RouterError

# OpenAI answers 400 where we answer 422; the SDKs would raise UnprocessableEntityError otherwise.
STATUS = {422: 400}
TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "insufficient_quota",
    403: "permission_error", 404: "invalid_request_error", 409: "invalid_request_error",
    413: "invalid_request_error", 429: "rate_limit_error",
}


class ModelNotFound(NotFound):
    code = "model_not_found"


def error_type(status: int) -> str:
    return TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")


def error_body(
    message: str, *, status: int, code: str | None, param: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": error_type(status), "param": param, "code": code}
    if details:
        error["details"] = details
    return {"error": error}


def router_error_response(exc: RouterError, headers: dict[str, str] | None = None) -> Response:
    """Any of our errors as OpenAI answers it: same message and code, OpenAI's status and type."""
    status = STATUS.get(exc.status_code, exc.status_code)
    details = dict(exc.details)
    param = details.pop("param", None)
    if param is None and details.get("fields"):
        param = details["fields"][0].get("field")
    body = error_body(exc.message, status=status, code=exc.code, param=param, details=details)
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers={**(headers or {}), **exc.headers})


def validation_error_response(exc: ValidationError) -> Response:
    """A body that does not parse or validate: 400, `param` naming the first bad field."""
    errors = exc.errors(include_url=False)
    loc = errors[0]["loc"] if errors else ()
    param = ".".join(str(p) for p in loc) or None
    message = str(errors[0]["msg"]) if errors else "invalid body"
    if message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    elif param:
        message = f"Invalid value for '{param}': {message}"
    expected = (errors[0].get("ctx") or {}).get("expected") if errors else None
    if expected:
        message += f" (allowed: {expected})"
    body = error_body(message, status=400, code="invalid_request", param=param,
                      details={"fields": [{"field": ".".join(str(p) for p in e["loc"]),
                                           "message": e["msg"]} for e in errors]})
    return Response(orjson.dumps(body), status_code=400, media_type="application/json")


def stream_error_event(message: str, *, code: str, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    """The event that ends a broken stream: the SDKs raise APIError with this message."""
    event = error_body(message, status=502, code=code)
    if usage is not None:
        event["usage"] = usage
    return event
