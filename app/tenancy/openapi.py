"""The OpenAPI document tells the truth about security: schemes, and the errors every secured route can give.

Every operation but the public ones gets the two credential schemes (bearer, X-API-Key) and the
401/403/429/503 answers in the one error envelope; routes that execute also 402; bodies also 400
and 413; paths with an id also 404 (another tenant's ids are not found); and the framework's 422
schema is replaced by the envelope the service really sends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from app.tenancy.principal import Scope
from app.tenancy.scopes import is_public, required_scope

ENVELOPE = "ErrorEnvelope"
ENVELOPE_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message", "details"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "details": {"type": "object"}},
    }},
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "string"}}}
SECURED = {
    "401": ("`unauthorized`: no key, or an unknown or revoked key", None),
    "403": ("`forbidden`: the key lacks this route's scope; `tenant_mismatch`: `tenant` is not the key's",
            None),
    "429": ("`rate_limited`: the tenant's requests or tokens per minute, or this replica's in-flight cap",
            RETRY_AFTER),
    "503": ("`service_unavailable`: keys cannot be verified right now", RETRY_AFTER),
}
BUDGET = ("`budget_exceeded`: the tenant's hard budget would be overspent; `details` has the limit, "
          "the spend and `resets_at`", None)
TOO_LARGE = ("`payload_too_large`: the body is over the size cap", None)
UNPARSABLE = ("the body could not be read as JSON", None)
NOT_FOUND = ("`not_found`: no such resource for this caller (another tenant's ids included)", None)
INVALID = ("`invalid_request`: a field is wrong; `details.fields` names each and what is allowed", None)


def _error(description: str, headers: dict[str, Any] | None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{ENVELOPE}"}}}}
    if headers:
        response["headers"] = headers
    return response


def document_security(app: FastAPI, public_paths: tuple[str, ...]) -> None:
    """Wrap the app's OpenAPI generator (after every other customisation) to add the above."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    documented: list[int] = []

    def openapi() -> dict[str, Any]:
        schema = generate()
        if id(schema) in documented:
            return schema
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {})[ENVELOPE] = ENVELOPE_SCHEMA
        components["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "`Authorization: Bearer <key>` (what OpenAI SDKs send)"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }
        for path, item in schema.get("paths", {}).items():
            for method, operation in item.items():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                responses = operation["responses"]
                if "422" in responses:
                    responses["422"] = _error(responses["422"].get("description") or INVALID[0], None)
                if is_public(path, public_paths):
                    continue
                operation["security"] = [{"bearer": []}, {"apiKey": []}]
                for status, (description, headers) in SECURED.items():
                    responses.setdefault(status, _error(description, headers))
                if "{" in path:
                    responses.setdefault("404", _error(*NOT_FOUND))
                if required_scope(path) is Scope.EXECUTE:
                    responses.setdefault("402", _error(*BUDGET))
                if method in ("post", "put", "patch"):
                    responses.setdefault("400", _error(*UNPARSABLE))
                    responses.setdefault("413", _error(*TOO_LARGE))
        documented.append(id(schema))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
