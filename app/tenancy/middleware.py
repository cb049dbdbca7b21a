"""ASGI authentication: every path but the public ones needs a key with the path's scope.

A pure ASGI middleware (no BaseHTTPMiddleware, no dependency solving) so the check costs one
HMAC and a dict lookup on a warm key, and so every route, including ones added later, is
covered without declaring anything. The caller is published as `request.state.principal` and
in the `principal.current` ContextVar for the pipeline. A tenant's requests-per-minute bucket is
taken here, before any body is read.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import Forbidden, RateLimited, RouterError, ServiceUnavailable, Unauthorized
from app.tenancy.principal import ANONYMOUS, Principal, current
from app.tenancy.principal import Scope as Needed
from app.tenancy.ratelimit import retry_after_header
from app.tenancy.scopes import PathPolicy

if TYPE_CHECKING:
    from app.tenancy.service import Tenancy

log = logging.getLogger(__name__)

CHALLENGE = {"www-authenticate": 'Bearer realm="llm-router"'}


def credential(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The key from `Authorization: Bearer <key>` (OpenAI SDKs) or `X-API-Key: <key>`."""
    api_key = None
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
        elif name == b"x-api-key" and value:
            api_key = value.decode("latin-1").strip() or None
    return api_key


def _preflight(scope: Scope) -> bool:
    """A CORS preflight carries no credentials by design; the CORS middleware answers it."""
    if scope["method"] != "OPTIONS":
        return False
    names = {name for name, _ in scope.get("headers", ())}
    return b"origin" in names and b"access-control-request-method" in names


async def send_error(send: Send, error: RouterError) -> None:
    """Answer in the one error envelope, from outside the framework's exception handlers."""
    body = orjson.dumps(error.envelope())
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Authentication:
    """Resolves the caller of each request, or answers 401/403/429/503 without calling the app."""

    def __init__(self, app: ASGIApp, *, enabled: bool, public_paths: tuple[str, ...]) -> None:
        self.app = app
        self.enabled = enabled
        self.policy = PathPolicy(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        needed = self.policy(scope["path"]) if scope["type"] in ("http", "websocket") else None
        if needed is None or (scope["type"] == "http" and _preflight(scope)):
            await self.app(scope, receive, send)
            return
        try:
            principal = await self._principal(scope, needed) if self.enabled else ANONYMOUS
        except RouterError as error:
            if scope["type"] != "http":
                await send({"type": "websocket.close", "code": 1008})
                return
            await send_error(send, error)
            return
        scope.setdefault("state", {})["principal"] = principal
        token = current.set(principal)
        try:
            await self.app(scope, receive, send)
        finally:
            current.reset(token)

    async def _principal(self, scope: Scope, needed: Needed) -> Principal:
        presented = credential(scope.get("headers", []))
        if presented is None:
            raise Unauthorized(
                "an API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`",
                headers=CHALLENGE)
        tenancy = _tenancy(scope)
        if tenancy is None:
            raise ServiceUnavailable("the service is starting; try again", headers={"retry-after": "1"})
        try:
            principal = await tenancy.authenticator.authenticate(presented)
        except RouterError:
            raise
        except Exception as exc:
            log.warning("cannot verify API keys: %s", type(exc).__name__)
            raise ServiceUnavailable("API keys cannot be verified right now; try again",
                                     headers={"retry-after": "2"}) from None
        if not principal.can(needed):
            raise Forbidden(f"this key lacks the `{needed.value}` scope this path needs",
                            details={"required_scope": needed.value,
                                     "key_scopes": sorted(s.value for s in principal.scopes)})
        policy = principal.tenant
        if policy is not None and policy.rate_limit_rpm:
            wait = await tenancy.limiter.take(f"rpm:{policy.id}", 1, per_minute=policy.rate_limit_rpm)
            if wait is not None:
                raise RateLimited(
                    f"tenant {policy.name} is over its limit of {policy.rate_limit_rpm} requests per minute",
                    details={"limit": "requests_per_minute", "requests_per_minute": policy.rate_limit_rpm,
                             "retry_after_s": round(wait, 3)},
                    headers={"retry-after": retry_after_header(wait)})
        return principal


def _tenancy(scope: Scope) -> Tenancy | None:
    ctx = getattr(scope["app"].state, "ctx", None)
    tenancy: Tenancy | None = getattr(ctx, "tenancy", None)
    return tenancy
