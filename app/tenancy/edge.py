"""ASGI edge: a request id on every request and response, security headers, and load shedding.

Outermost middleware, so 413s and 401s carry the headers too. The in-flight cap answers 429
with Retry-After before any work is done once this replica serves `max_in_flight` requests
(the probes and /metrics are never shed, so the orchestrator still sees a live process).
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uuid_utils import uuid7

from app.errors import RateLimited
from app.logs import request_id
from app.tenancy.middleware import send_error
from app.tenancy.scopes import PathPolicy

VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
# HTML pages (the docs, the dashboard) bring their own scripts; everything else is data only.
DATA_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
NO_STORE = (b"cache-control", b"no-store")
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
HTML_HEADERS = SECURITY_HEADERS
DATA_HEADERS = (*SECURITY_HEADERS, DATA_CSP, NO_STORE)
ADDED_NAMES = frozenset(name for name, _ in DATA_HEADERS)


def incoming_request_id(scope: Scope) -> str:
    """The caller's X-Request-ID when it is a sane token, else a new UUIDv7."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if VALID_REQUEST_ID.match(text):
                return text
            break
    return str(uuid7())


class Edge:
    """Request ids, security headers and the per-replica cap on requests in flight."""

    def __init__(self, app: ASGIApp, *, max_in_flight: int, public_paths: tuple[str, ...]) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.policy = PathPolicy(public_paths)
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = incoming_request_id(scope)
        token = request_id.set(rid)
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = set()
                content_type = None
                for name, value in headers:
                    name = name.lower()
                    present.add(name)
                    if content_type is None and name == b"content-type":
                        content_type = value
                html = content_type is not None and content_type.startswith(b"text/html")
                added = HTML_HEADERS if html else DATA_HEADERS
                if present.isdisjoint(ADDED_NAMES):  # the usual case: the app set none of them
                    headers += added
                else:
                    headers += [h for h in added if h[0] not in present]
                if https and HSTS[0] not in present:
                    headers.append(HSTS)
                headers.append((b"x-request-id", rid.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            if self.in_flight >= self.max_in_flight and self.policy(scope["path"]) is not None:
                await send_error(send_with_headers, RateLimited(
                    f"this replica is serving its limit of {self.max_in_flight} requests; retry shortly",
                    details={"limit": "in_flight", "max_in_flight": self.max_in_flight},
                    headers={"retry-after": "1"}))
                return
            self.in_flight += 1
            try:
                await self.app(scope, receive, send_with_headers)
            finally:
                self.in_flight -= 1
        finally:
            request_id.reset(token)
