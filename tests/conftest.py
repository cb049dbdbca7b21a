"""Shared fixtures: the shipped catalog, placeholder provider keys, and the service in-process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config.catalog import Catalog
from app.config.loader import load_catalog
from app.config.settings import Settings
from app.main import create_app
from app.routing.index import CatalogIndex

CANARY_PREFIX = "sk-canary-"


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def index(catalog: Catalog) -> CatalogIndex:
    return CatalogIndex(catalog)


@pytest.fixture
def provider_keys(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every provider's key variable set to a canary value that must never leak."""
    keys = {p.api_key_env: f"{CANARY_PREFIX}{name}-0123456789" for name, p in catalog.providers.items()}
    for var, value in keys.items():
        monkeypatch.setenv(var, value)
    return keys


@pytest.fixture
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("data")
    return Settings(database_url=f"sqlite+aiosqlite:///{data}/router.db", ROUTER_DATA_DIR=data)


@pytest.fixture
def client(provider_keys: dict[str, str], settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client
