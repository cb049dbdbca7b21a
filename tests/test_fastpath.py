"""The direct dispatch of the hot endpoints answers exactly as the framework's route would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app import main, pipeline
from app.api.fastpath import FastRoutes, route_table
from app.config.settings import Settings
from app.errors import Forbidden

ROUTE = "/api/brain/ai-assistant/route"
MASTER = "master-key-for-tests-0123456789"
AUTH = {"authorization": f"Bearer {MASTER}"}

REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("routed", {"json": {"task_type": "chat", "budget": "low", "context_size": 2000}, "headers": AUTH}),
    ("eu compliance", {"json": {"task_type": "chat", "budget": "medium", "region": "eu",
                                "requires_compliance": True}, "headers": AUTH}),
    ("unknown task", {"json": {"task_type": "poetry", "budget": "low"}, "headers": AUTH}),
    ("wrong type", {"json": {"task_type": "chat", "budget": "low", "context_size": "big"}, "headers": AUTH}),
    ("not json", {"content": b"{nope", "headers": {**AUTH, "content-type": "application/json"}}),
    ("empty body", {"headers": AUTH}),
    ("no eligible provider", {"json": {"task_type": "summarization", "budget": "free",
                                       "context_size": 900_000}, "headers": AUTH}),
    ("over the cap", {"content": b"x" * 5000, "headers": {**AUTH, "content-type": "application/json"}}),
    ("no key", {"json": {"task_type": "chat", "budget": "low"}}),
    ("wrong key", {"json": {"task_type": "chat", "budget": "low"}, "headers": {"x-api-key": "nope"}}),
]


ORIGIN = "https://app.example.com"


def _settings(tmp: Path) -> Settings:
    return Settings(router_master_key=MASTER, database_url=f"sqlite+aiosqlite:///{tmp}/router.db",
                    ROUTER_DATA_DIR=tmp, ROUTER_MAX_BODY_BYTES=4096, ROUTER_CORS_ORIGINS=ORIGIN)


@pytest.fixture
def both(provider_keys: dict[str, str], tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, TestClient]]:
    """The service as shipped (CORS on), and the same service with every endpoint left to the router."""
    fast_app = main.create_app(_settings(tmp_path / "fast"))
    monkeypatch.setattr(main, "FAST_ENDPOINTS", ())
    framework_app = main.create_app(_settings(tmp_path / "framework"))
    with TestClient(fast_app) as fast, TestClient(framework_app) as framework:
        yield fast, framework


def _comparable(response: httpx.Response) -> tuple[int, dict[str, str], Any]:
    body = response.json()
    body.pop("decision_id", None)  # a fresh UUIDv7 per decision
    if isinstance(body.get("error"), dict):
        body["error"].get("details", {}).pop("decision_id", None)
    headers = {k: v for k, v in response.headers.items() if k != "content-length"}
    return response.status_code, headers, body


@pytest.mark.parametrize(("label", "request_args"), REQUESTS, ids=[r[0] for r in REQUESTS])
def test_fast_path_and_framework_route_answer_alike(
        both: tuple[TestClient, TestClient], label: str, request_args: dict[str, Any]) -> None:
    fast, framework = both
    args = {**request_args, "headers": {**request_args.get("headers", {}), "x-request-id": "same-id"}}
    got, want = fast.post(ROUTE, **args), framework.post(ROUTE, **args)
    assert _comparable(got) == _comparable(want)
    if label == "routed":
        assert got.status_code == 200 and got.json()["primary_provider"] == "deepseek"
    if label in ("no key", "wrong key"):
        assert got.status_code == 401 and got.headers["www-authenticate"].startswith("Bearer")
    if label == "over the cap":
        assert got.status_code == 413 and got.json()["error"]["code"] == "payload_too_large"
    assert got.headers["x-request-id"] == "same-id" and got.headers["x-content-type-options"] == "nosniff"


def test_a_browser_request_gets_the_same_cors_headers(both: tuple[TestClient, TestClient]) -> None:
    fast, framework = both
    args: dict[str, Any] = {"json": {"task_type": "chat", "budget": "low"},
                            "headers": {**AUTH, "origin": ORIGIN, "x-request-id": "cors"}}
    got = fast.post(ROUTE, **args)
    assert _comparable(got) == _comparable(framework.post(ROUTE, **args))
    assert got.status_code == 200 and got.headers["access-control-allow-origin"] == ORIGIN
    assert "x-router-decision-id" in got.headers["access-control-expose-headers"]


def test_an_error_the_endpoint_raises_gets_the_same_envelope(
        both: tuple[TestClient, TestClient], monkeypatch: pytest.MonkeyPatch) -> None:
    """A RouterError goes to its handler; an unexpected one to the server-error handler (500)."""
    fast, framework = both

    def forbidden(*_: Any) -> None:
        raise Forbidden("not for you", details={"why": "test"})

    def broken(*_: Any) -> None:
        raise RuntimeError("boom")

    body = {"task_type": "chat", "budget": "low"}
    monkeypatch.setattr(pipeline, "route", forbidden)
    headers = {**AUTH, "x-request-id": "r1"}
    got = fast.post(ROUTE, json=body, headers=headers)
    assert _comparable(got) == _comparable(framework.post(ROUTE, json=body, headers=headers))
    assert got.status_code == 403 and got.json()["error"]["details"] == {"why": "test"}
    monkeypatch.setattr(pipeline, "route", broken)
    fast_500, framework_500 = (
        TestClient(c.app, raise_server_exceptions=False).post(ROUTE, json=body, headers=AUTH)
        for c in (fast, framework))
    assert fast_500.status_code == framework_500.status_code == 500
    assert fast_500.json() == framework_500.json()
    assert fast_500.json()["error"]["code"] == "internal_error"


def test_the_fast_paths_are_the_registered_and_documented_routes(
        provider_keys: dict[str, str], tmp_path: Path) -> None:
    app = main.create_app(_settings(tmp_path))
    table = route_table(app, main.FAST_ENDPOINTS)
    assert set(table) == {("POST", ROUTE), ("POST", "/api/brain/ai-assistant/execute"),
                          ("POST", "/v1/chat/completions")}
    paths = app.openapi()["paths"]
    for method, path in table:
        assert method.lower() in paths[path], path


async def test_only_an_exact_method_and_path_bypass_the_router() -> None:
    """Another method, a trailing slash or a root path go down the normal stack."""
    service = FastAPI()
    seen: list[str] = []

    @service.post("/hot")
    async def hot(request: Request) -> Response:
        return Response(b"fast:" + await request.body(), media_type="text/plain")

    async def downstream(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(f"{scope['method']} {scope['path']}")
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"router"})

    fast = FastRoutes(downstream, service=service, endpoints=[("POST", hot)])
    transport = httpx.ASGITransport(app=fast)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        direct = await http.post("/hot", content=b"abc")
        assert (direct.status_code, direct.text) == (200, "fast:abc")
        assert (await http.get("/hot")).status_code == 299
        assert (await http.post("/hot/", content=b"x")).status_code == 299
        assert (await http.post("/other")).status_code == 299
    rooted = httpx.ASGITransport(app=fast, root_path="/prefix")
    async with httpx.AsyncClient(transport=rooted, base_url="http://t") as http:
        assert (await http.post("/hot")).status_code == 299
    assert seen == ["GET /hot", "POST /hot/", "POST /other", "POST /hot"]


def test_an_endpoint_with_a_dependency_or_parameter_is_refused() -> None:
    """The direct call passes only the Request: anything more FastAPI would inject is refused at start."""
    from fastapi import Depends

    service = FastAPI()

    def tenant() -> str:
        return "t"

    @service.post("/dep")
    async def with_dep(request: Request, who: str = Depends(tenant)) -> Response:
        return Response(who)

    @service.post("/query")
    async def with_query(request: Request, limit: int = 10) -> Response:
        return Response(str(limit))

    @service.post("/plain")
    async def plain(request: Request) -> Response:
        return Response(b"")

    for endpoint in (with_dep, with_query):
        with pytest.raises(TypeError, match="only `request: Request`"):
            route_table(service, [("POST", endpoint)])
    assert route_table(service, [("POST", plain)]) == {("POST", "/plain"): plain}


def test_the_routers_of_the_fast_endpoints_add_no_dependencies() -> None:
    """A router- or route-level dependency would be skipped by the direct call: there is none."""
    from fastapi.routing import APIRoute

    from app.api import execute, openai_compat, routing

    fast = {endpoint for _, endpoint in main.FAST_ENDPOINTS}
    for module in (routing, execute, openai_compat):
        assert module.router.dependencies == []
        for route in module.router.routes:
            if isinstance(route, APIRoute) and route.endpoint in fast:
                assert route.dependencies == [] and route.dependant.dependencies == []
                fast.discard(route.endpoint)
    assert fast == set(), "every fast endpoint lives on one of these routers"
