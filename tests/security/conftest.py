"""A secured service in-process with two tenants, A and B, and records of B's to look for."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount

from app.config.catalog import Catalog
from app.config.settings import Settings
from app.main import create_app
from tests.conftest import CANARY_PREFIX
from tests.tenancy.stack import ADMIN, API, MASTER, auth, query

PUBLIC = {"/health", "/ready", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
SCHEMATHESIS_CASES: list[int] = [0, 0]  # with a key, without


@dataclass
class World:
    client: TestClient
    db_url: str
    key_a: str
    key_b: str
    tenant_a: str
    tenant_b: str
    b_decisions: list[str] = field(default_factory=list)

    @property
    def b_markers(self) -> list[str]:
        """Strings that appear only in B's data (its name and its decision ids)."""
        return [self.tenant_b, *self.b_decisions]


def operations(app: Any) -> list[tuple[str, str]]:
    """(method, path template) of every route the app serves, walking app.routes (mounts: a sub-path)."""
    found: list[tuple[str, str]] = []
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, Mount):
            found.append(("GET", ctx.path + "/probe.js"))
            continue
        for method in sorted(set(ctx.methods or ()) - {"HEAD", "OPTIONS"}):
            found.append((method, ctx.path))
    return found


def new_tenant(client: TestClient, name: str) -> str:
    made = client.post(f"{ADMIN}/tenants", json={"name": name}, headers=auth(MASTER))
    assert made.status_code == 201, made.text
    key = client.post(f"{ADMIN}/tenants/{name}/keys", json={}, headers=auth(MASTER))
    assert key.status_code == 201, key.text
    value: str = key.json()["key"]
    return value


@pytest.fixture(scope="module")
def world(catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("secured")
    db_url = f"sqlite+aiosqlite:///{data}/router.db"
    with pytest.MonkeyPatch.context() as mp:
        for name, spec in catalog.providers.items():
            mp.setenv(spec.api_key_env, f"{CANARY_PREFIX}{name}-0123456789")
        settings = Settings(router_master_key=MASTER, database_url=db_url, ROUTER_DATA_DIR=data)
        with TestClient(create_app(settings)) as client:
            suffix = secrets.token_hex(4)
            a, b = f"tenant-a-{suffix}", f"tenant-b-{suffix}"
            w = World(client, db_url, new_tenant(client, a), new_tenant(client, b), a, b)
            for task in ("chat", "code", "summarization"):
                routed = client.post(f"{API}/route", headers=auth(w.key_b),
                                     json={"task_type": task, "budget": "medium", "context_size": 900})
                assert routed.status_code == 200, routed.text
                w.b_decisions.append(routed.json()["decision_id"])
            wait_for_decisions(db_url, w.b_decisions)
            yield w


def wait_for_decisions(db_url: str, ids: list[str], timeout_s: float = 10) -> None:
    """Until the write-behind writer has stored these decisions."""
    wanted = {uuid.UUID(i) for i in ids}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stored = {uuid.UUID(str(r[0])) for r in query(db_url, "SELECT id FROM decisions")}
        if wanted <= stored:
            return
        time.sleep(0.05)
    raise AssertionError("the decisions were not stored in time")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    with_key, without = SCHEMATHESIS_CASES
    if with_key or without:
        terminalreporter.write_line(
            f"schemathesis: {with_key + without} generated cases "
            f"({with_key} with a valid key, {without} without)")
