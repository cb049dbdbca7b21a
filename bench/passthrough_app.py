"""The ceiling for /execute: a bare FastAPI pass-through to the simulated provider over one pooled
client; no routing, no recording, no metrics.

PASSTHROUGH_CLIENT=httpx (default) sends through httpx's AsyncClient over the httpx-aiohttp
transport (the issue's reference); PASSTHROUGH_CLIENT=aiohttp through one aiohttp ClientSession
directly (the stricter ceiling: what /execute's own provider calls use since they skip httpx).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import httpx
from fastapi import FastAPI
from httpx_aiohttp import AiohttpTransport
from starlette.requests import Request
from starlette.responses import Response

HEADERS = {"authorization": "Bearer bench-key", "content-type": "application/json"}


def create_passthrough_app() -> FastAPI:
    upstream = os.environ["PASSTHROUGH_UPSTREAM"]  # e.g. http://127.0.0.1:8100/deepseek/chat/completions
    direct = os.environ.get("PASSTHROUGH_CLIENT", "httpx") == "aiohttp"
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if direct:
            state["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))
        else:
            limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
            state["client"] = httpx.AsyncClient(transport=AiohttpTransport(limits=limits))
        yield
        if direct:
            await state["session"].close()
        else:
            await state["client"].aclose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.post("/passthrough")
    async def passthrough(request: Request) -> Response:
        body = await request.body()
        if direct:
            async with state["session"].post(upstream, data=body, headers=HEADERS) as reply:
                return Response(await reply.read(), status_code=reply.status, media_type="application/json")
        answer = await state["client"].post(upstream, content=body, headers=HEADERS)
        return Response(answer.content, status_code=answer.status_code, media_type="application/json")

    return app
