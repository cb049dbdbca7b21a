"""Every route in app.routes, present and future: 401 without a key, 403 for tenants on admin routes,
and tenant A never sees tenant B's records. Only the documented public paths are exempt."""

from __future__ import annotations

import re
from typing import Any

import httpx

from app.main import create_app
from app.tenancy.principal import Scope
from app.tenancy.scopes import ADMIN_PREFIX, required_scope
from tests.security.conftest import PUBLIC, World, operations
from tests.tenancy.stack import MASTER, auth

PARAM = re.compile(r"\{([^}:]+)(:[^}]*)?\}")
UNKNOWN_KEY = "llr_0123456789ab_" + "A" * 43


def fill(path: str, world: World) -> str:
    """Path parameters filled with B's identifiers (or a provider name where a provider is meant)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if "decision" in name or name == "id":
            return world.b_decisions[0]
        if name == "name" and "/admin/" not in path:
            return "deepseek"
        if name in ("name", "tenant"):
            return world.tenant_b
        return world.b_decisions[0]

    return PARAM.sub(value, path)


def call(world: World, method: str, path: str, headers: dict[str, str] | None = None,
         params: dict[str, str] | None = None) -> httpx.Response:
    body: Any = {} if method in ("POST", "PUT", "PATCH") else None
    return world.client.request(method, path, headers=headers or {}, json=body, params=params)


def assert_error(response: httpx.Response, status: int, code: str, where: str) -> None:
    assert response.status_code == status, f"{where}: {response.status_code} {response.text[:200]}"
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, where
    assert set(body["error"]) == {"code", "message", "details"}, where


def test_the_walk_covers_every_kind_of_route(world: World) -> None:
    ops = operations(world.client.app)
    paths = {p for _, p in ops}
    assert {"/api/brain/ai-assistant/route", "/api/brain/ai-assistant/execute"} <= paths
    assert any(p.startswith(ADMIN_PREFIX) for p in paths)
    assert paths >= PUBLIC
    # A fresh app has the same routes: nothing is registered only at start-up and missed here.
    assert set(operations(create_app())) == set(ops)


def test_every_route_but_the_public_ones_needs_a_key(world: World) -> None:
    for method, template in operations(world.client.app):
        path = fill(template, world)
        where = f"{method} {template}"
        if template in PUBLIC:
            assert call(world, method, path).status_code == 200, where
            continue
        assert_error(call(world, method, path), 401, "unauthorized", where)
        assert_error(call(world, method, path, {"authorization": f"Bearer {UNKNOWN_KEY}"}), 401,
                     "unauthorized", where)
        assert_error(call(world, method, path, {"x-api-key": "not-a-key"}), 401, "unauthorized", where)


def test_tenant_keys_get_403_on_admin_routes_and_through_on_the_others(world: World) -> None:
    for method, template in operations(world.client.app):
        if template in PUBLIC:
            continue
        path = fill(template, world)
        where = f"{method} {template}"
        response = call(world, method, path, auth(world.key_a))
        if template.startswith(ADMIN_PREFIX) or required_scope(template) is Scope.ADMIN:
            assert_error(response, 403, "forbidden", where)
            assert call(world, method, path, auth(MASTER)).status_code not in (401, 403), where
        else:
            assert response.status_code not in (401, 403), f"{where}: {response.text[:200]}"
    assert all(required_scope(p) is Scope.ADMIN for _, p in operations(world.client.app)
               if p.startswith(ADMIN_PREFIX))


def test_tenant_a_never_sees_tenant_b(world: World) -> None:
    # The markers are real: the admin, asking for B, finds them.
    seen_by_admin = world.client.get("/api/brain/ai-assistant/analytics/decisions",
                                     params={"tenant": world.tenant_b}, headers=auth(MASTER)).text
    assert all(m in seen_by_admin for m in world.b_decisions)
    checked = 0
    for method, template in operations(world.client.app):
        if method != "GET" or template in PUBLIC or template.startswith(ADMIN_PREFIX):
            continue
        path = fill(template, world)
        for params in (None, {"tenant": world.tenant_b}):
            response = call(world, method, path, auth(world.key_a), params)
            where = f"GET {path} {params or ''}"
            assert response.status_code < 500, where
            if response.status_code < 300:
                leaked = [m for m in world.b_markers if m in response.text]
                assert leaked == [], f"{where} shows B's records to A: {leaked}"
            else:
                assert response.status_code in (404, 422), where
            checked += 1
    assert checked >= 10
