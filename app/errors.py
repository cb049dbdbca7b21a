"""The error tree: every error the service answers with, and its HTTP status.

RouterError                      base; `status_code`, `code`, `message`, `details`
├── BadRequest                   400  the request is malformed beyond schema validation
├── Unauthorized                 401  no key, or an unknown or revoked key
├── BudgetExceeded               402  a tenant's hard budget would be overspent
├── Forbidden                    403  the key lacks the scope the route needs
├── NotFound                     404  no such resource for this tenant
├── PayloadTooLarge              413  the body is over the configured cap
├── InputInvalid                 422  a field is wrong; `details` names it and what is allowed
├── NoEligibleProvider           422  no model passes the constraints; `details.excluded` says why
├── RateLimited                  429  a tenant's or the replica's limit; carries Retry-After
├── ProviderRejectedRequest      4xx  the provider refused the request itself (no fallback)
├── AllProvidersFailed           502  every provider in the chain failed; `details.attempts`
└── ServiceUnavailable           503  overloaded or shutting down; carries Retry-After

ConfigError is not an HTTP error: it stops start-up with the file, the path and the problem.
"""

from __future__ import annotations

from typing import Any


class RouterError(Exception):
    """Base of every error answered to a client, in the one JSON envelope."""

    status_code = 500
    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.headers = headers or {}

    def envelope(self) -> dict[str, Any]:
        """The JSON body every error shares: {"error": {"code", "message", "details"}}."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class BadRequest(RouterError):
    status_code = 400
    code = "bad_request"


class Unauthorized(RouterError):
    status_code = 401
    code = "unauthorized"


class BudgetExceeded(RouterError):
    status_code = 402
    code = "budget_exceeded"


class Forbidden(RouterError):
    status_code = 403
    code = "forbidden"


class NotFound(RouterError):
    status_code = 404
    code = "not_found"


class PayloadTooLarge(RouterError):
    status_code = 413
    code = "payload_too_large"


class InputInvalid(RouterError):
    status_code = 422
    code = "invalid_request"


class NoEligibleProvider(RouterError):
    status_code = 422
    code = "no_eligible_provider"


class RateLimited(RouterError):
    status_code = 429
    code = "rate_limited"


class ProviderRejectedRequest(RouterError):
    """The provider answered 400/404/413/422 for the request itself: returned, not retried."""

    code = "provider_rejected_request"

    def __init__(self, message: str, *, status_code: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.status_code = status_code


class AllProvidersFailed(RouterError):
    status_code = 502
    code = "all_providers_failed"


class ServiceUnavailable(RouterError):
    status_code = 503
    code = "service_unavailable"


class ConfigError(Exception):
    """A bad catalog or setting: names the file, the path inside it and what is wrong."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration in {source}:\n{lines}")
