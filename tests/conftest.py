"""Shared fixtures: the shipped catalog, placeholder provider keys, and the service in-process."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture(autouse=True)
def _no_probes_to_the_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Active probes would call the real provider URLs, unreachable here; tests that exercise
    probes point the catalog at the simulator and turn them on explicitly."""
    monkeypatch.setenv("ROUTER_HEALTH_PROBES", "false")


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


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database of this test session (random name), migrated to head, dropped at the end.

    Skips only when CI is not "true" and the server at 127.0.0.1:5432 does not answer.
    """
    from app.store import migrate
    from app.store.engine import create_engine
    from tests.store import pgdb

    problem = asyncio.run(pgdb.reachable())
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI and unreachable: {problem}")
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 unreachable and CI is not true: {problem}")
    name = pgdb.unique_name()
    url = pgdb.sqlalchemy_url(name)

    async def _migrate() -> None:
        engine = create_engine(url)
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(pgdb.create_database(name))
    try:
        asyncio.run(_migrate())
        yield url
    finally:
        asyncio.run(pgdb.drop_database(name))


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session; tests copy it."""
    from app.store import migrate
    from app.store.engine import create_engine

    path = tmp_path_factory.mktemp("sqlite-template") / "router.db"

    async def _migrate() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(_migrate())
    return path


async def truncate_all(url: str) -> None:
    """Empty every table of a migrated PostgreSQL database (the schema and its version stay)."""
    import sqlalchemy as sa

    from app.store.engine import create_engine

    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            names = (await conn.execute(sa.text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            ))).scalars().all()
            if names:
                await conn.execute(sa.text(f"TRUNCATE {', '.join(names)} CASCADE"))
    finally:
        await engine.dispose()


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, migrated_sqlite: Path) -> str:
    """A migrated, empty database of each backend: a SQLite copy, or the session's PG emptied."""
    if request.param == "sqlite":
        path = tmp_path / "db" / "router.db"
        path.parent.mkdir()
        shutil.copy(migrated_sqlite, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_url")
    asyncio.run(truncate_all(url))
    return url
