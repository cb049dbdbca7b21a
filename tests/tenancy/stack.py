"""A secured service in front of the provider simulator, over real HTTP, for end-to-end tenancy tests."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from app.commands.demo import EXTRA_PLACEHOLDERS, write_catalog
from app.config.catalog import Catalog
from app.config.settings import Settings
from app.simulator import SimulatorServer
from app.store.engine import create_engine

MASTER = "master-key-for-tests-0123456789"
API = "/api/brain/ai-assistant"
ADMIN = f"{API}/admin"
EXECUTE = f"{API}/execute"


def auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def secured_settings(simulator: SimulatorServer, catalog: Catalog, tmp_path: Path, db_url: str,
                     monkeypatch: pytest.MonkeyPatch, **extra: Any) -> Settings:
    """Settings of a service with a master key whose catalog points every provider at the simulator."""
    for var, value in EXTRA_PLACEHOLDERS.items():
        monkeypatch.setenv(var, value)
    path = write_catalog(simulator.catalog(catalog), tmp_path / "catalog.yaml")
    return Settings(router_config=path, database_url=db_url, router_master_key=MASTER,
                    ROUTER_DATA_DIR=tmp_path / "data", **extra)


def tenant_key(base_url: str, name: str, **limits: Any) -> str:
    """Create a tenant with these limits and an API key for it (through the admin API)."""
    made = httpx.post(f"{base_url}{ADMIN}/tenants", json={"name": name, **limits}, headers=auth(MASTER))
    assert made.status_code == 201, made.text
    key = httpx.post(f"{base_url}{ADMIN}/tenants/{name}/keys", json={}, headers=auth(MASTER))
    assert key.status_code == 201, key.text
    value: str = key.json()["key"]
    return value


def query(db_url: str, sql: str, **params: Any) -> list[Any]:
    """Rows of one SQL statement against the store (after the service stopped and flushed)."""

    async def run() -> list[Any]:
        engine = create_engine(db_url)
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(sa.text(sql), params)).all())
        finally:
            await engine.dispose()

    return asyncio.run(run())
