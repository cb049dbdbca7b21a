"""Start-up: SQLite is migrated on its own; a PostgreSQL schema behind the code stops the service."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.cli import main as cli
from app.config.settings import Settings
from app.store import migrate
from app.store.engine import create_engine
from tests.store.server import free_port
from tests.store.service import ROUTE, running, store_of


async def start_and_route(settings: Settings) -> int:
    async with running(settings) as (app, client):
        resp = await client.post(ROUTE, json={"task_type": "chat", "budget": "low", "context_size": 10})
        assert await store_of(app).writer.flush(10)
        return resp.status_code


async def downgrade_one(url: str) -> None:
    engine = create_engine(url)
    try:
        (previous,) = migrate.revision_graph()[migrate.head_revisions()[0]]
        await migrate.downgrade(engine, previous)
    finally:
        await engine.dispose()


async def revisions(url: str) -> tuple[str, ...]:
    engine = create_engine(url)
    try:
        return await migrate.current_revisions(engine)
    finally:
        await engine.dispose()


async def test_sqlite_under_the_data_dir_is_created_and_migrated(
    tmp_path: Path, provider_keys: dict[str, str]
) -> None:
    data = tmp_path / "data"
    settings = Settings(ROUTER_DATA_DIR=data)  # DATABASE_URL unset: the embedded default
    assert await start_and_route(settings) == 200
    assert await revisions(f"sqlite+aiosqlite:///{data / 'router.db'}") == migrate.head_revisions()
    assert await start_and_route(settings) == 200  # a second start finds it up to date


@pytest.mark.postgres
def test_postgres_behind_head_refuses_to_start_until_upgraded(
    pg_empty_database: Callable[[], str], tmp_path: Path, provider_keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    url = pg_empty_database()
    settings = Settings(database_url=url, ROUTER_DATA_DIR=tmp_path)
    with pytest.raises(migrate.SchemaOutOfDate, match="llm-router db upgrade"):
        asyncio.run(start_and_route(settings))
    assert asyncio.run(revisions(url)) == (), "the service must not migrate PostgreSQL itself"

    monkeypatch.setenv("DATABASE_URL", url)
    assert cli(["db", "current"]) == 3
    assert "llm-router db upgrade" in capsys.readouterr().out
    assert cli(["db", "upgrade"]) == 0
    assert cli(["db", "current"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert asyncio.run(start_and_route(settings)) == 200


@pytest.mark.postgres
def test_a_schema_from_an_unknown_version_refuses_to_start(
    pg_empty_database: Callable[[], str], tmp_path: Path, provider_keys: dict[str, str]
) -> None:
    url = pg_empty_database()

    async def migrate_then_stamp_unknown() -> None:
        engine = create_engine(url)
        try:
            await migrate.upgrade(engine)
            async with engine.begin() as conn:
                await conn.execute(sa.text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
        finally:
            await engine.dispose()

    asyncio.run(migrate_then_stamp_unknown())
    with pytest.raises(migrate.SchemaOutOfDate, match="does not know"):
        asyncio.run(start_and_route(Settings(database_url=url, ROUTER_DATA_DIR=tmp_path)))


@pytest.mark.postgres
@pytest.mark.slow
def test_llm_router_serve_exits_with_the_upgrade_message(
    pg_empty_database: Callable[[], str], tmp_path: Path, provider_keys: dict[str, str]
) -> None:
    env = {**os.environ, "DATABASE_URL": pg_empty_database(), "ROUTER_DATA_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 3, proc.stderr
    assert "llm-router db upgrade" in proc.stderr



# Each costs start-up time and memory and is needed only in some deployments: Alembic when the
# schema is behind, redis with REDIS_URL, google-auth (and cryptography) with application default
# credentials, asyncpg with PostgreSQL.
OPTIONAL_MODULES = ("alembic", "redis", "google.auth", "cryptography", "asyncpg")
LIFESPAN = """
import asyncio, json, sys
from app.config.settings import Settings
from app.main import create_app
async def main(d):
    app = create_app(Settings(ROUTER_DATA_DIR=d, DATABASE_URL=f'sqlite+aiosqlite:///{d}/router.db'))
    async with app.router.lifespan_context(app):
        pass
    print(json.dumps([m for m in sys.argv[2:] if m in sys.modules]))
asyncio.run(main(sys.argv[1]))
"""


def test_a_start_imports_only_what_its_configuration_needs(
    migrated_sqlite: Path, tmp_path: Path, provider_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("REDIS_URL", "DATABASE_URL", "ROUTER_MASTER_KEY", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(var, raising=False)
    at_head = tmp_path / "at-head"
    at_head.mkdir()
    (at_head / "router.db").write_bytes(migrated_sqlite.read_bytes())
    fresh = tmp_path / "fresh"

    def loaded(data: Path) -> list[str]:
        run = subprocess.run([sys.executable, "-c", LIFESPAN, str(data), *OPTIONAL_MODULES],
                             capture_output=True, text=True, timeout=120, env=os.environ.copy())
        assert run.returncode == 0, run.stderr[-2000:]
        return list(json.loads(run.stdout.splitlines()[-1]))

    assert loaded(at_head) == []
    assert loaded(fresh) == []  # a new SQLite database is created from the head schema's snapshot
    assert (fresh / "router.db").is_file()
    part_way = tmp_path / "part-way"
    part_way.mkdir()
    (part_way / "router.db").write_bytes(migrated_sqlite.read_bytes())
    asyncio.run(downgrade_one(f"sqlite+aiosqlite:///{part_way / 'router.db'}"))
    assert loaded(part_way) == ["alembic"]  # a database behind the head is migrated with Alembic
