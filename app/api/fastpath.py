"""A direct dispatch for the hottest endpoints, past the framework's router and exception layers.

Starlette's route matching over ~36 routes, FastAPI's request handling and dependency solving,
and the exception middleware cost about as much as a whole /route decision (~90 us). The
endpoints given here, each `async def f(request: Request) -> Response` with no dependencies and
no parameters (so calling it with the Request is all FastAPI would do), are called directly by
this innermost middleware when method and path match exactly. Everything else, including the
same path with another method or a trailing slash, goes down the normal stack. The routes stay
registered with FastAPI, so the OpenAPI document and the docs page are unchanged, and a path is
found by the route's name, so it cannot drift from the registered one.

Behaviour is the framework's: the middlewares outside (request id, security headers, in-flight
cap, body cap, CORS, authentication) still run; an exception goes to the handler the exception
middleware would pick (a status handler first for HTTP errors, then by class), and one without
a handler propagates to the server-error middleware and its 500 envelope, as before.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import FastAPI
from starlette._utils import is_async_callable
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]
Table = dict[tuple[str, str], Endpoint]


def route_table(service: FastAPI, endpoints: Iterable[tuple[str, Endpoint]]) -> Table:
    """(method, path) -> endpoint, each path as the service registered it (by the route's name)."""
    table: Table = {}
    for method, endpoint in endpoints:
        check_direct(endpoint)
        table[(method, str(service.url_path_for(endpoint.__name__)))] = endpoint
    return table


def check_direct(endpoint: Endpoint) -> None:
    """Refuse an endpoint FastAPI would give more than the Request: the direct call would skip it."""
    params = list(inspect.signature(endpoint, eval_str=True).parameters.values())
    if len(params) != 1 or params[0].annotation is not Request:
        raise TypeError(f"{endpoint.__name__} cannot be served directly: it must take only "
                        "`request: Request`, with no dependencies or parameters")


class FastRoutes:
    """Innermost user middleware: serves the given endpoints without the router, else passes on."""

    def __init__(self, app: ASGIApp, *, service: FastAPI,
                 endpoints: Iterable[tuple[str, Endpoint]]) -> None:
        self.app = app
        # Built with the middleware stack, at the first request: every route exists by then.
        self.routes = route_table(service, endpoints)
        handlers = {k: v for k, v in service.exception_handlers.items() if k not in (500, Exception)}
        self.status_handlers: dict[int, Any] = {k: v for k, v in handlers.items() if isinstance(k, int)}
        self.class_handlers: dict[Any, Any] = {k: v for k, v in handlers.items() if not isinstance(k, int)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = None
        if scope["type"] == "http" and not scope.get("root_path"):
            endpoint = self.routes.get((scope["method"], scope["path"]))
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        started = False

        async def sender(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
            await response(scope, receive, sender)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None or started:
                raise
            if is_async_callable(handler):
                response = await handler(request, exc)
            else:
                response = await run_in_threadpool(handler, request, exc)
            if response is not None:
                await response(scope, receive, sender)
            exc.__traceback__ = None  # a reused exception instance would pile up tracebacks

    def _handler(self, exc: Exception) -> Any:
        if isinstance(exc, HTTPException) and exc.status_code in self.status_handlers:
            return self.status_handlers[exc.status_code]
        for cls in type(exc).__mro__:
            if cls in self.class_handlers:
                return self.class_handlers[cls]
        return None
