"""The edge: request ids, security headers, the in-flight cap, CORS only for configured origins."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from app import logs
from app.config.settings import Settings
from app.main import create_app
from app.tenancy.edge import Edge

ROUTE = "/api/brain/ai-assistant/route"
CHAT_LOW = {"task_type": "chat", "budget": "low", "context_size": 1000}


def test_every_answer_has_a_request_id_and_security_headers(client: TestClient) -> None:
    for response in [client.get("/health"), client.post(ROUTE, json=CHAT_LOW), client.post(ROUTE, json={}),
                     client.get("/nowhere")]:
        h = response.headers
        assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"
        assert h["referrer-policy"] == "no-referrer"
        assert h["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert h["cache-control"] == "no-store"
        assert len(h["x-request-id"]) == 36
        assert "strict-transport-security" not in h  # plain HTTP: HSTS would be meaningless
    assert client.get("/health", headers={"x-request-id": "abc-123"}).headers["x-request-id"] == "abc-123"
    forged = client.get("/health", headers={"x-request-id": "a b\r\nset-cookie: x"}).headers["x-request-id"]
    assert forged != "a b" and len(forged) == 36
    docs = client.get("/docs")
    assert docs.headers["content-type"].startswith("text/html")
    assert "content-security-policy" not in docs.headers  # the docs page loads its own scripts


def test_an_oversized_body_still_gets_the_headers(client: TestClient) -> None:
    big = client.post(ROUTE, content=b"x" * (2 * 1024 * 1024), headers={"content-type": "application/json"})
    assert big.status_code == 413 and big.headers["x-content-type-options"] == "nosniff"


async def test_the_in_flight_cap_sheds_with_429_but_never_the_probes() -> None:
    release = asyncio.Event()
    entered = asyncio.Event()

    async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/slow":
            entered.set()
            await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    edge = Edge(slow_app, max_in_flight=1, public_paths=("/health",))
    transport = httpx.ASGITransport(app=edge)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        first = asyncio.create_task(http.get("/slow"))
        await entered.wait()
        shed = await http.get("/other")
        assert shed.status_code == 429 and shed.headers["retry-after"] == "1"
        assert shed.json()["error"]["details"] == {"limit": "in_flight", "max_in_flight": 1}
        assert (await http.get("/health")).status_code == 200
        release.set()
        assert (await first).status_code == 200
        assert (await http.get("/other")).status_code == 200
    assert edge.in_flight == 0


def test_cors_answers_only_configured_origins(provider_keys: dict[str, str], tmp_path: Path) -> None:
    settings = Settings(router_master_key="master-key-for-tests-0123456789",
                        database_url=f"sqlite+aiosqlite:///{tmp_path}/router.db", ROUTER_DATA_DIR=tmp_path,
                        ROUTER_CORS_ORIGINS="https://app.example.com")
    with TestClient(create_app(settings)) as client:
        preflight = {"origin": "https://app.example.com", "access-control-request-method": "POST",
                     "access-control-request-headers": "authorization,content-type"}
        ok = client.options(ROUTE, headers=preflight)
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://app.example.com"
        evil = client.options(ROUTE, headers={**preflight, "origin": "https://evil.example"})
        assert "access-control-allow-origin" not in evil.headers
        refused = client.post(ROUTE, json=CHAT_LOW, headers={"origin": "https://app.example.com"})
        assert refused.status_code == 401  # a browser can read why: the 401 carries CORS headers
        assert refused.headers["access-control-allow-origin"] == "https://app.example.com"


def test_json_logs_carry_the_request_id_and_mask_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    logs.register_secret("sk-canary-registered-0123456789")
    handler_config = logs.config("INFO")
    logger = logging.getLogger("tests.edge.json")
    formatter = logs.JsonFormatter()
    handler = logging.StreamHandler()
    handler.addFilter(logs.RequestId())
    handler.addFilter(logs.ScrubSecrets())
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    logger.propagate = False
    token = logs.request_id.set("req-42")
    try:
        logger.warning("calling with Bearer abcdefghijklmnop and %s and llr_0123456789ab_%s",
                       "sk-canary-registered-0123456789", "Z" * 43)
        try:
            raise ValueError("key sk-proj-ABCDEFGHIJKLMNOPQRSTUV leaked")
        except ValueError:
            logger.exception("failed")
    finally:
        logs.request_id.reset(token)
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    assert handler_config["handlers"]["stderr"]["filters"] == ["request_id", "scrub"]
    assert lines[0]["request_id"] == "req-42" and lines[0]["level"] == "warning"
    assert lines[0]["message"] == "calling with Bearer [redacted] and [redacted] and [redacted]"
    assert "sk-proj" not in lines[1]["exc"] and "[redacted]" in lines[1]["exc"]


@pytest.mark.parametrize(("app_headers", "https"), [
    ([(b"content-type", b"application/json")], False),
    ([(b"content-type", b"application/json"), (b"Cache-Control", b"max-age=60"),
      (b"x-frame-options", b"SAMEORIGIN")], True),
    ([(b"content-type", b"text/html; charset=utf-8")], False),
    ([(b"content-type", b"text/html"), (b"content-security-policy", b"default-src 'self'")], True),
])
async def test_headers_the_app_set_are_kept_and_never_doubled(
        app_headers: list[tuple[bytes, bytes]], https: bool) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(app_headers)})
        await send({"type": "http.response.body", "body": b"ok"})

    edge = Edge(app, max_in_flight=10, public_paths=("/health",))
    transport = httpx.ASGITransport(app=edge)
    base = "https://t" if https else "http://t"
    async with httpx.AsyncClient(transport=transport, base_url=base) as http:
        response = await http.get("/x", headers={"x-request-id": "rid-1"})
    names = [name.lower() for name, _ in response.headers.raw]
    assert len(names) == len(set(names)), names
    own = {name.lower(): value for name, value in app_headers}
    html = own[b"content-type"].startswith(b"text/html")
    expected = {b"x-content-type-options": b"nosniff", b"x-frame-options": b"DENY",
                b"referrer-policy": b"no-referrer", b"cross-origin-resource-policy": b"same-origin",
                b"x-request-id": b"rid-1"}
    if not html:
        expected |= {b"content-security-policy": b"default-src 'none'; frame-ancestors 'none'",
                     b"cache-control": b"no-store"}
    if https:
        expected[b"strict-transport-security"] = b"max-age=31536000; includeSubDomains"
    expected |= own  # what the app set wins
    assert {name.lower(): value for name, value in response.headers.raw} == expected
