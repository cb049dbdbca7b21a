"""Migrations go up, down and up again, and the models match what they build, on both databases."""

from __future__ import annotations

import asyncio
import importlib
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


async def differences(engine: AsyncEngine, metadata: Any, *, only: set[str] | None = None) -> list[Any]:
    """What autogenerate would change; `only` limits it to these tables."""

    def in_scope(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return only is None or table in only

    def compare(conn: Connection) -> list[Any]:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": in_scope}
        )
        return list(compare_metadata(ctx, metadata))

    async with engine.connect() as conn:
        return await conn.run_sync(compare)


async def up_down_up(url: str) -> None:
    engine = create_engine(url)
    try:
        assert await migrate.current_revisions(engine) == ()
        await migrate.upgrade(engine)
        assert await migrate.current_revisions(engine) == migrate.head_revisions()
        assert await table_names(engine) >= CORE_TABLES
        await migrate.downgrade(engine, "base")
        assert await migrate.current_revisions(engine) == ()
        assert await table_names(engine) <= {"alembic_version"}
        await migrate.upgrade(engine)
        assert await migrate.current_revisions(engine) == migrate.head_revisions()
        assert await table_names(engine) >= CORE_TABLES
    finally:
        await engine.dispose()


@pytest.mark.postgres
def test_upgrade_downgrade_upgrade_on_postgres(pg_empty_database: Callable[[], str]) -> None:
    asyncio.run(up_down_up(pg_empty_database()))


def test_upgrade_downgrade_upgrade_on_sqlite(tmp_path: Path) -> None:
    asyncio.run(up_down_up(f"sqlite+aiosqlite:///{tmp_path / 'router.db'}"))


@pytest.mark.parametrize("module", list(migrate.TABLE_MODULES))
async def test_models_match_the_migrations(engine: AsyncEngine, module: str) -> None:
    """Each module's tables are exactly what the migrations build (else autogenerate would alter them)."""
    obj = getattr(importlib.import_module(module), migrate.TABLE_MODULES[module])
    metadata = obj if isinstance(obj, sa.MetaData) else obj.metadata
    owned = {t.name for t in metadata.sorted_tables}
    if module == "app.store.models":
        assert owned >= CORE_TABLES
    assert await differences(engine, metadata, only=owned) == [], f"{module} differs from the migrations"


async def test_every_migrated_table_has_a_model(engine: AsyncEngine) -> None:
    modelled = {t for m in migrate.target_metadata() for t in m.tables}
    assert await table_names(engine) - {"alembic_version"} <= modelled


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


def test_heads_read_from_the_files_are_alembics() -> None:
    """The start-up check reads revisions without Alembic; it must agree with Alembic's own graph."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert migrate.head_revisions() == tuple(sorted(script.get_heads()))
    assert set(migrate.revision_graph()) == {rev.revision for rev in script.walk_revisions()}


async def test_current_revision_read_with_one_query_is_alembics(engine: AsyncEngine) -> None:
    def alembics(conn: Connection) -> tuple[str, ...]:
        return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))

    async with engine.connect() as conn:
        assert await conn.run_sync(alembics) == migrate.head_revisions()
    assert await migrate.current_revisions(engine) == migrate.head_revisions()
