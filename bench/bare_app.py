"""The ceiling for /route: a bare FastAPI endpoint answering a fixed JSON body."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

FIXED = b'{"primary_provider":"deepseek","primary_model":"deepseek-chat"}'


def create_bare_app() -> FastAPI:
    app = FastAPI()

    @app.get("/health")
    async def health() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.post("/route")
    async def route(request: Request) -> Response:
        await request.body()
        return Response(FIXED, media_type="application/json")

    return app
