"""SQL injection strings in every parameter of every GET operation of the OpenAPI document get 422,
404 or exactly what any other non-matching value gets, never an error; and the data is intact."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.security.conftest import World
from tests.tenancy.stack import MASTER, auth, query

INJECTIONS = [
    "' OR '1'='1",
    "' OR 1=1 --",
    "\" OR \"\"=\"",
    "1; DROP TABLE decisions; --",
    "x' UNION SELECT id, key_hash FROM api_keys --",
    "deepseek' /*",
    "%' OR tenant LIKE '%",
    "1) OR (1=1",
    "'; UPDATE tenants SET rate_limit_rpm = 1; --",
    "\\' OR 1=1 #",
]
BENIGN = "zz-no-such-value"
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")
DOCS = {"/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"}


def get_operations(world: World) -> list[tuple[str, list[dict[str, Any]]]]:
    schema = world.client.get("/openapi.json").json()
    out = []
    for path, item in schema["paths"].items():
        operation = item.get("get")
        if operation is not None and path not in DOCS:
            out.append((path, operation.get("parameters", [])))
    return out


def request(world: World, path: str, params: list[dict[str, Any]], name: str, value: str) -> httpx.Response:
    """The operation with `name` set to `value` and every other path parameter a plain value."""
    query_params: dict[str, str] = {}
    for p in params:
        if p["in"] == "path":
            path = path.replace("{" + p["name"] + "}", value if p["name"] == name else "deepseek")
        elif p["name"] == name:
            query_params[name] = value
    return world.client.get(path, params=query_params, headers=auth(MASTER))


def stable(body: Any, volatile: set[str], echoed: str) -> Any:
    """The body without what changes between two identical requests (clocks, ids), the value sent
    replaced by the benign one (an echo of the filter is not a leak)."""
    if isinstance(body, dict):
        return {k: stable(v, volatile, echoed) for k, v in body.items() if k not in volatile}
    if isinstance(body, list):
        return [stable(v, volatile, echoed) for v in body]
    if isinstance(body, str):
        return TIMESTAMP.sub("<time>", body.replace(echoed, BENIGN))
    return body


def volatile_keys(a: Any, b: Any, prefix: str = "") -> set[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        keys: set[str] = set()
        for k in a.keys() | b.keys():
            if k not in a or k not in b:
                keys.add(k)
            elif a[k] != b[k]:
                nested = volatile_keys(a[k], b[k])
                keys |= nested or {k}
        return keys
    return set() if a == b else {prefix}


def decoded(response: httpx.Response) -> Any:
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.json()
    return response.text


def test_injection_strings_in_every_get_parameter(world: World) -> None:
    decisions_before = query(world.db_url, "SELECT count(*) FROM decisions")[0][0]
    tenants_before = query(world.db_url, "SELECT name, rate_limit_rpm FROM tenants ORDER BY name")
    probed = 0
    for path, params in get_operations(world):
        for param in params:
            if param["in"] not in ("query", "path"):
                continue
            name = param["name"]
            first = request(world, path, params, name, BENIGN)
            second = request(world, path, params, name, BENIGN)
            assert first.status_code < 500 and first.status_code == second.status_code, f"{path} {name}"
            volatile = volatile_keys(decoded(first), decoded(second))
            for injection in INJECTIONS:
                response = request(world, path, params, name, injection)
                where = f"GET {path} {name}={injection!r}"
                assert response.status_code in (200, 404, 422), f"{where}: {response.text[:300]}"
                probed += 1
                if response.status_code == 422:
                    assert response.json()["error"]["code"] == "invalid_request", where
                elif response.status_code == 404:
                    assert response.json()["error"]["code"] == "not_found", where
                else:
                    # The injection is just another string that matches nothing.
                    assert first.status_code == 200, where
                    got = stable(decoded(response), volatile, injection)
                    assert got == stable(decoded(first), volatile, BENIGN), where
    assert probed >= 10 * len(INJECTIONS)
    assert query(world.db_url, "SELECT count(*) FROM decisions")[0][0] >= decisions_before
    assert query(world.db_url, "SELECT name, rate_limit_rpm FROM tenants ORDER BY name") == tenants_before
    assert query(world.db_url, "SELECT count(*) FROM api_keys")[0][0] == 2
