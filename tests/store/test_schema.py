"""Migrations go up, down and up again, and the models match what they build, on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import app
from app.store import migrate
from app.store.engine import create_engine
from app.store.models import Base

CORE_TABLES = {"decisions", "attempts", "health_snapshots", "tenants", "api_keys", "feedback"}


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))


async def differences(engine: AsyncEngine, metadata: Any) -> list[Any]:
    def compare(conn: Connection) -> list[Any]:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, metadata))

    async with engine.connect() as conn:
        return await conn.run_sync(compare)


async def up_down_up(url: str) -> None:
    engine = create_engine(url)
    try:
        assert await migrate.current_revisions(engine) == ()
        await migrate.upgrade(engine)
        assert await migrate.current_revisions(engine) == migrate.head_revisions()
        assert CORE_TABLES <= await table_names(engine)
        await migrate.downgrade(engine, "base")
        assert await migrate.current_revisions(engine) == ()
        assert await table_names(engine) <= {"alembic_version"}
        await migrate.upgrade(engine)
        assert await migrate.current_revisions(engine) == migrate.head_revisions()
        assert CORE_TABLES <= await table_names(engine)
        assert await differences(engine, migrate.target_metadata()) == []
    finally:
        await engine.dispose()


@pytest.mark.postgres
def test_upgrade_downgrade_upgrade_on_postgres(pg_empty_database: Callable[[], str]) -> None:
    asyncio.run(up_down_up(pg_empty_database()))


def test_upgrade_downgrade_upgrade_on_sqlite(tmp_path: Path) -> None:
    asyncio.run(up_down_up(f"sqlite+aiosqlite:///{tmp_path / 'router.db'}"))


async def test_models_match_the_migrations(engine: AsyncEngine) -> None:
    assert await differences(engine, migrate.target_metadata()) == []


async def test_a_model_the_migrations_lack_is_detected(engine: AsyncEngine) -> None:
    """The comparison above can fail: a column added only to the models shows up."""
    drifted = sa.MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["decisions"].append_column(sa.Column("prompt_text", sa.Text()))
    diff = await differences(engine, drifted)
    assert [(d[0], d[3].name) for d in diff if d[0] == "add_column"] == [("add_column", "prompt_text")]


def test_migrations_ship_inside_the_package() -> None:
    """An installed package finds its migrations without alembic.ini or the source tree."""
    package = Path(app.__file__).resolve().parent
    assert migrate.MIGRATIONS_DIR.is_relative_to(package)
    versions = migrate.MIGRATIONS_DIR / "versions"
    assert (versions / "__init__.py").is_file(), "setuptools packages only directories with __init__"
    assert (migrate.MIGRATIONS_DIR / "script.py.mako").is_file()
    assert "0001" in {p.name.split("_")[0] for p in versions.glob("*.py")}
