"""The ceiling for /execute: a bare FastAPI pass-through to the simulated provider over one
aiohttp-backed httpx client; no routing, no recording, no metrics."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from httpx_aiohttp import AiohttpTransport
from starlette.requests import Request
from starlette.responses import Response


def create_passthrough_app() -> FastAPI:
    upstream = os.environ["PASSTHROUGH_UPSTREAM"]  # e.g. http://127.0.0.1:8100/deepseek/chat/completions
    state: dict[str, httpx.AsyncClient] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
        state["client"] = httpx.AsyncClient(transport=AiohttpTransport(limits=limits))
        yield
        await state["client"].aclose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.post("/passthrough")
    async def passthrough(request: Request) -> Response:
        reply = await state["client"].post(upstream, content=await request.body(), headers={
            "authorization": "Bearer bench-key", "content-type": "application/json"})
        return Response(reply.content, status_code=reply.status_code, media_type="application/json")

    return app
