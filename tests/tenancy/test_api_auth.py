"""The service with authentication on: admin endpoints, tenant keys, scopes, tenant binding, rate limits."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.config.settings import Settings
from app.main import create_app
from app.store.engine import create_engine

MASTER = "master-key-for-tests-0123456789"
API = "/api/brain/ai-assistant"
ROUTE = f"{API}/route"
ADMIN = f"{API}/admin"
CHAT_LOW = {"task_type": "chat", "budget": "low", "context_size": 1000}


def auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    details: dict[str, Any] = body["error"]["details"]
    return details


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def secured(provider_keys: dict[str, str], data_dir: Path) -> Iterator[TestClient]:
    settings = Settings(router_master_key=MASTER, database_url=f"sqlite+aiosqlite:///{data_dir}/router.db",
                        ROUTER_DATA_DIR=data_dir)
    with TestClient(create_app(settings)) as client:
        yield client


def new_key(client: TestClient, tenant: str, scopes: list[str] | None = None, **limits: Any) -> str:
    if client.get(f"{ADMIN}/tenants/{tenant}", headers=auth(MASTER)).status_code == 404:
        made = client.post(f"{ADMIN}/tenants", json={"name": tenant, **limits}, headers=auth(MASTER))
        assert made.status_code == 201, made.text
    body = {} if scopes is None else {"scopes": scopes}
    created = client.post(f"{ADMIN}/tenants/{tenant}/keys", json=body, headers=auth(MASTER))
    assert created.status_code == 201, created.text
    key: str = created.json()["key"]
    return key


def test_a_key_is_shown_once_and_listed_by_prefix_only(secured: TestClient) -> None:
    key = new_key(secured, "acme")
    listed = secured.get(f"{ADMIN}/keys", headers=auth(MASTER)).json()["keys"]
    assert len(listed) == 1
    entry = listed[0]
    assert entry["tenant"] == "acme" and key.startswith(f"llr_{entry['prefix']}_")
    assert entry["scopes"] == ["analytics", "execute", "route"]
    text = secured.get(f"{ADMIN}/keys", headers=auth(MASTER)).text
    assert key not in text and key.split("_", 2)[2] not in text and "hash" not in text
    assert secured.post(ROUTE, json=CHAT_LOW, headers=auth(key)).status_code == 200
    assert secured.post(ROUTE, json=CHAT_LOW, headers={"x-api-key": key}).status_code == 200
    assert secured.post(ROUTE, json=CHAT_LOW, headers={"authorization": f"bearer {key}"}).status_code == 200


def test_no_key_a_wrong_key_and_a_revoked_key_get_401(secured: TestClient) -> None:
    key = new_key(secured, "acme")
    details = envelope(secured.post(ROUTE, json=CHAT_LOW), 401, "unauthorized")
    assert details == {}
    assert secured.post(ROUTE, json=CHAT_LOW).headers["www-authenticate"].startswith("Bearer")
    envelope(secured.post(ROUTE, json=CHAT_LOW, headers=auth(key[:-2] + "xx")), 401, "unauthorized")
    basic = {"authorization": f"Basic {key}"}
    envelope(secured.post(ROUTE, json=CHAT_LOW, headers=basic), 401, "unauthorized")
    prefix = key.split("_")[1]
    revoked = secured.delete(f"{ADMIN}/keys/{prefix}", headers=auth(MASTER))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    envelope(secured.post(ROUTE, json=CHAT_LOW, headers=auth(key)), 401, "unauthorized")


def test_tenant_keys_cannot_administer_and_scopes_are_enforced(secured: TestClient) -> None:
    full = new_key(secured, "acme")
    details = envelope(secured.get(f"{ADMIN}/tenants", headers=auth(full)), 403, "forbidden")
    assert details["required_scope"] == "admin"
    envelope(secured.post(f"{ADMIN}/tenants/acme/keys", json={"scopes": ["admin"]}, headers=auth(full)),
             403, "forbidden")
    analytics_only = new_key(secured, "acme", scopes=["analytics"])
    details = envelope(secured.post(ROUTE, json=CHAT_LOW, headers=auth(analytics_only)), 403, "forbidden")
    assert details == {"required_scope": "route", "key_scopes": ["analytics"]}
    envelope(secured.post(f"{API}/execute", json={**CHAT_LOW, "prompt": "hi"}, headers=auth(analytics_only)),
             403, "forbidden")


def test_the_tenant_comes_from_the_key(secured: TestClient, data_dir: Path) -> None:
    key = new_key(secured, "acme")
    other = secured.post(ROUTE, json={**CHAT_LOW, "tenant": "globex"}, headers=auth(key))
    envelope(other, 403, "tenant_mismatch")
    ok = secured.post(ROUTE, json={**CHAT_LOW, "tenant": "acme"}, headers=auth(key))
    plain = secured.post(ROUTE, json=CHAT_LOW, headers=auth(key))
    assert ok.status_code == plain.status_code == 200
    ids = {ok.json()["decision_id"], plain.json()["decision_id"]}
    me = secured.get(f"{API}/tenant", headers=auth(key)).json()
    assert me["kind"] == "tenant" and me["tenant"]["name"] == "acme" and me["key_prefix"] == key.split("_")[1]
    secured.__exit__(None, None, None)  # shut down: the writer flushes every record

    async def tenants_of_decisions() -> dict[str, str | None]:
        engine = create_engine(f"sqlite+aiosqlite:///{data_dir}/router.db")
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(sa.text("SELECT id, tenant FROM decisions"))
                return {str(uuid.UUID(str(r[0]))): r[1] for r in rows}
        finally:
            await engine.dispose()

    stored = asyncio.run(tenants_of_decisions())
    assert {i: stored[i] for i in ids} == dict.fromkeys(ids, "acme")


def test_requests_per_minute_answer_429_with_retry_after(secured: TestClient) -> None:
    key = new_key(secured, "acme", rate_limit_rpm=3)
    other = new_key(secured, "globex", rate_limit_rpm=3)
    statuses = [secured.post(ROUTE, json=CHAT_LOW, headers=auth(key)).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = secured.post(ROUTE, json=CHAT_LOW, headers=auth(key))
    details = envelope(refused, 429, "rate_limited")
    assert details["limit"] == "requests_per_minute" and details["requests_per_minute"] == 3
    assert 1 <= int(refused.headers["retry-after"]) <= 20
    assert secured.post(ROUTE, json=CHAT_LOW, headers=auth(other)).status_code == 200  # per tenant


def test_admin_changes_to_limits_apply_at_once_on_this_replica(secured: TestClient) -> None:
    key = new_key(secured, "acme")
    for _ in range(3):
        assert secured.post(ROUTE, json=CHAT_LOW, headers=auth(key)).status_code == 200
    patched = secured.patch(f"{ADMIN}/tenants/acme", json={"rate_limit_rpm": 1, "daily_hard_limit_usd": 5},
                            headers=auth(MASTER))
    assert patched.status_code == 200 and patched.json()["rate_limit_rpm"] == 1
    assert secured.post(ROUTE, json=CHAT_LOW, headers=auth(key)).status_code == 200
    assert secured.post(ROUTE, json=CHAT_LOW, headers=auth(key)).status_code == 429
    tenant = secured.get(f"{ADMIN}/tenants/acme", headers=auth(MASTER)).json()
    assert tenant["budget"]["daily"]["hard_limit_usd"] == 5.0 and tenant["budget"]["daily"]["spent_usd"] == 0
    cleared = secured.patch(f"{ADMIN}/tenants/acme", json={"rate_limit_rpm": None}, headers=auth(MASTER))
    assert cleared.json()["rate_limit_rpm"] is None and cleared.json()["daily_hard_limit_usd"] == 5.0


def test_admin_input_errors(secured: TestClient) -> None:
    new_key(secured, "acme")
    envelope(secured.post(f"{ADMIN}/tenants", json={"name": "acme"}, headers=auth(MASTER)), 409, "conflict")
    envelope(secured.post(f"{ADMIN}/tenants/nobody/keys", json={}, headers=auth(MASTER)), 404, "not_found")
    envelope(secured.patch(f"{ADMIN}/tenants/nobody", json={}, headers=auth(MASTER)), 404, "not_found")
    envelope(secured.delete(f"{ADMIN}/keys/0123456789ab", headers=auth(MASTER)), 404, "not_found")
    for bad in [{"name": "no spaces"}, {"name": "x", "daily_hard_limit_usd": -1},
                {"name": "x", "rate_limit_rpm": 0}, {"name": "x", "api_key": "sk-x"},
                {"name": "x", "default_budget": "gold"}]:
        envelope(secured.post(f"{ADMIN}/tenants", json=bad, headers=auth(MASTER)), 422, "invalid_request")
    envelope(secured.post(f"{ADMIN}/tenants/acme/keys", json={"scopes": ["root"]}, headers=auth(MASTER)),
             422, "invalid_request")


def test_with_authentication_off_no_key_is_needed_and_tenant_is_a_tag(client: TestClient) -> None:
    routed = client.post(ROUTE, json={**CHAT_LOW, "tenant": "anyone"})
    assert routed.status_code == 200
    me = client.get(f"{API}/tenant").json()
    assert me["kind"] == "anonymous" and me["tenant"] is None
