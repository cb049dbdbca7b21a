"""Authentication overhead per request, measured in-process over ASGI (no sockets, one event loop).

Run: .venv/bin/python bench/bench_auth.py [--requests 20000]

Three views, all in one run so the ratios hold on any machine:
1. the middleware alone around a trivial ASGI app: no key path (auth off), master key, a warm
   tenant key (cache hit), a warm key with a requests-per-minute bucket, and a cold key (cache
   TTL 0: one SQLite lookup per request);
2. POST /api/brain/ai-assistant/route and GET /api/brain/ai-assistant/providers through the whole
   app, authentication off vs a warm tenant key.
Prints microseconds per request (median of 7 interleaved rounds) and what authentication adds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
from starlette.types import Receive, Scope, Send

from app.commands.demo import placeholder_keys
from app.config.loader import load_catalog
from app.config.settings import Settings
from app.main import create_app
from app.store import migrate
from app.store.engine import create_engine, create_sessionmaker
from app.tenancy import admin
from app.tenancy.authn import Authenticator
from app.tenancy.middleware import Authentication
from app.tenancy.principal import TENANT_DEFAULT_SCOPES
from app.tenancy.ratelimit import LocalBuckets
from app.tenancy.schemas import TenantCreate

MASTER = "bench-master-key-0123456789"
ROUTE_BODY = orjson.dumps({"task_type": "chat", "budget": "low", "context_size": 2000})
App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


async def one(app: App, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
    """One request through an ASGI app; its status."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "headers": [(b"content-type", b"application/json"),
                                          (b"content-length", str(len(body)).encode()), *headers],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8000), "state": {}}
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


Case = tuple[App, str, str, list[tuple[bytes, bytes]], bytes, int]


async def compare(cases: dict[str, Case], n: int, rounds: int = 7) -> dict[str, float]:
    """Microseconds per request of each case: rounds interleaved (so load drift hits all alike), median."""
    for label, (app, method, path, headers, body, expect) in cases.items():
        status = await one(app, method, path, headers, body)
        assert status == expect, f"{label}: {status}"
    samples: dict[str, list[float]] = {label: [] for label in cases}
    for _ in range(rounds):
        for label, (app, method, path, headers, body, _) in cases.items():
            count = n if not label.endswith("cold") else max(100, n // 50)
            started = time.perf_counter()
            for _ in range(count):
                await one(app, method, path, headers, body)
            samples[label].append((time.perf_counter() - started) / count * 1e6)
    return {label: statistics.median(values) for label, values in samples.items()}


class Ctx:
    def __init__(self, tenancy: Any) -> None:
        self.tenancy = tenancy


class State:
    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx


class Holder:
    def __init__(self, ctx: Ctx) -> None:
        self.state = State(ctx)


async def middleware_alone(sessions: Any, key: str, limited_key: str, n: int) -> None:
    """The Authentication middleware in front of an app that answers 204 at once."""

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def wrapped(enabled: bool, ttl_s: float) -> App:
        tenancy = type("T", (), {})()
        tenancy.authenticator = Authenticator(sessions, master_key=MASTER, pepper=b"bench", ttl_s=ttl_s)
        tenancy.limiter = LocalBuckets()
        middleware = Authentication(inner, enabled=enabled, public_paths=("/health",))
        holder = Holder(Ctx(tenancy))

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            scope["app"] = holder
            await middleware(scope, receive, send)

        return app

    path = "/api/brain/ai-assistant/route"
    warm = wrapped(True, 5)
    bearer = [(b"authorization", f"Bearer {key}".encode())]
    us = await compare({
        "inner app without middleware": (inner, "POST", path, [], b"", 204),
        "auth off (anonymous)": (wrapped(False, 5), "POST", path, [], b"", 204),
        "master key": (warm, "POST", path, [(b"authorization", f"Bearer {MASTER}".encode())], b"", 204),
        "tenant key, warm cache": (warm, "POST", path, bearer, b"", 204),
        "tenant key + rpm bucket": (warm, "POST", path, [(b"x-api-key", limited_key.encode())], b"", 204),
        "tenant key, cold": (wrapped(True, 0), "POST", path, bearer, b"", 204),
    }, n)
    bare = us["inner app without middleware"]
    print("1. the middleware alone, around an app that answers at once (us per request)")
    for label, value in us.items():
        extra = "" if label.startswith("inner") else f"   +{value - bare:.2f}"
        shown = label + (" (a SQLite lookup every time)" if label.endswith("cold") else "")
        print(f"   {shown:<44}{value:9.2f}{extra}")


async def through_the_app(tmp: Path, n: int) -> None:
    """The whole service: auth off vs on with a warm tenant key, on two endpoints, interleaved."""
    apps: dict[str, tuple[Any, list[tuple[bytes, bytes]]]] = {}
    async with contextlib.AsyncExitStack() as stack:
        for label, master in (("auth off", None), ("tenant key", MASTER)):
            data = tmp / label.replace(" ", "-")
            settings = Settings(database_url=f"sqlite+aiosqlite:///{data}/router.db", ROUTER_DATA_DIR=data,
                                router_master_key=master, ROUTER_RECORD_DECISIONS=False)
            app = create_app(settings)
            await stack.enter_async_context(app.router.lifespan_context(app))
            headers: list[tuple[bytes, bytes]] = []
            if master:
                tenancy = app.state.ctx.tenancy
                await admin.create_tenant(tenancy.sessions, TenantCreate(name="bench"))
                key, _ = await admin.create_key(tenancy.sessions, tenancy.options.pepper, "bench",
                                                scopes=sorted(TENANT_DEFAULT_SCOPES))
                headers = [(b"authorization", f"Bearer {key}".encode())]
            apps[label] = (app, headers)
        print("2. the whole app (us per request; decisions not recorded)")
        for method, path, body, count in (("POST", "/api/brain/ai-assistant/route", ROUTE_BODY, n // 4),
                                          ("GET", "/api/brain/ai-assistant/providers", b"", n // 20)):
            us = await compare({label: (app, method, path, headers, body, 200)
                                for label, (app, headers) in apps.items()}, count)
            off, on = us["auth off"], us["tenant key"]
            print(f"   {method} {path:<36} auth off {off:8.1f}   tenant key {on:8.1f}   "
                  f"authentication adds {on - off:+.1f} us ({(on - off) / off * 100:+.1f} %)")


async def main(n: int) -> None:
    logging.disable(logging.WARNING)
    os.environ.update(placeholder_keys(load_catalog(), os.environ))  # every provider routable
    with tempfile.TemporaryDirectory(prefix="bench-auth-") as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp}/keys.db")
        await migrate.upgrade(engine)
        sessions = create_sessionmaker(engine)
        await admin.create_tenant(sessions, TenantCreate(name="plain"))
        await admin.create_tenant(sessions, TenantCreate(name="limited", rate_limit_rpm=10_000_000))
        scopes = sorted(TENANT_DEFAULT_SCOPES)
        key, _ = await admin.create_key(sessions, b"bench", "plain", scopes=scopes)
        limited, _ = await admin.create_key(sessions, b"bench", "limited", scopes=scopes)
        await middleware_alone(sessions, key, limited, n)
        await engine.dispose()
        await through_the_app(Path(tmp), n)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000, help="requests per round")
    asyncio.run(main(parser.parse_args().requests))
