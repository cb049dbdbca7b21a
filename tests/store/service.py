"""The service in-process for store tests: lifespan run for real, requests over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from app.config.settings import Settings
from app.context import ServiceContext
from app.main import create_app
from app.store.lifecycle import Store

ROUTE = "/api/brain/ai-assistant/route"


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """Start the app (lifespan included), yield it with a client, shut it down on exit."""
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://router"
    ) as client:
        yield app, client


def store_of(app: FastAPI) -> Store:
    ctx: ServiceContext = app.state.ctx
    assert ctx.store is not None
    return ctx.store
