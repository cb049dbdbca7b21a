"""New SQLite databases from the head schema's snapshot: the same schema Alembic's migrations
leave, used only for an empty database at the snapshot's revision."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.commands.db import migrated_snapshot
from app.store import migrate, sqlite_snapshot
from app.store.engine import create_engine


def engine_at(path: Path) -> AsyncEngine:
    return create_engine(f"sqlite+aiosqlite:///{path}")


async def snapshot_of(engine: AsyncEngine) -> str:
    revisions = await migrate.current_revisions(engine)
    async with engine.connect() as conn:
        return await conn.run_sync(sqlite_snapshot.dump, revisions)


async def objects(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(sa.text("SELECT name FROM sqlite_master ORDER BY name"))).scalars())


async def test_the_shipped_snapshot_is_what_the_migrations_leave() -> None:
    shipped = sqlite_snapshot.SNAPSHOT_PATH.read_text(encoding="utf-8")
    assert shipped == await migrated_snapshot(), (
        "app/store/migrations/sqlite_head.sql differs from what the migrations create: "
        "run `llm-router db snapshot` and commit it")
    revisions, statements = sqlite_snapshot.parse(shipped)
    assert revisions == migrate.head_revisions()
    assert any(s.startswith("CREATE TABLE decisions") for s in statements)


async def test_a_new_database_starts_from_the_snapshot_and_alembic_can_take_it_on(tmp_path: Path) -> None:
    engine = engine_at(tmp_path / "new.db")
    try:
        await migrate.upgrade_locked(engine, tmp_path / "lock")
        assert await migrate.current_revisions(engine) == migrate.head_revisions()
        assert await snapshot_of(engine) == await migrated_snapshot()
        # Alembic treats it as its own: down one revision and back up.
        graph = migrate.revision_graph()
        (previous,) = graph[migrate.head_revisions()[0]]
        await migrate.downgrade(engine, previous)
        assert await migrate.current_revisions(engine) == (previous,)
        await migrate.upgrade(engine)
        assert await migrate.current_revisions(engine) == migrate.head_revisions()
    finally:
        await engine.dispose()


async def test_a_database_with_any_schema_object_is_left_to_alembic(tmp_path: Path) -> None:
    engine = engine_at(tmp_path / "used.db")
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE notes (id INTEGER PRIMARY KEY)"))
        assert not await sqlite_snapshot.create_if_empty(engine, migrate.head_revisions())
        assert await objects(engine) == ["notes"]
    finally:
        await engine.dispose()


async def test_a_snapshot_not_at_the_code_head_is_not_used(tmp_path: Path) -> None:
    engine = engine_at(tmp_path / "new.db")
    old = tmp_path / "old.sql"
    old.write_text(sqlite_snapshot.SNAPSHOT_PATH.read_text(encoding="utf-8").replace(
        migrate.head_revisions()[0], "0004_sqlite_rollups", 1), encoding="utf-8")
    broken = tmp_path / "broken.sql"
    broken.write_text("CREATE TABLE x (id INTEGER);\n", encoding="utf-8")
    heads = migrate.head_revisions()
    try:
        assert not await sqlite_snapshot.create_if_empty(engine, heads, old)
        assert not await sqlite_snapshot.create_if_empty(engine, heads, broken)
        assert not await sqlite_snapshot.create_if_empty(engine, heads, tmp_path / "absent")
        assert await objects(engine) == []
        assert await sqlite_snapshot.create_if_empty(engine, heads)
        assert "decisions" in await objects(engine)
    finally:
        await engine.dispose()


async def test_a_snapshot_that_fails_part_way_leaves_the_database_empty_for_alembic(tmp_path: Path) -> None:
    engine = engine_at(tmp_path / "new.db")
    bad = tmp_path / "bad.sql"
    shipped = sqlite_snapshot.SNAPSHOT_PATH.read_text(encoding="utf-8")
    bad.write_text(shipped + "\nCREATE TABLE decisions (id INTEGER);\n", encoding="utf-8")  # made twice
    assert len(sqlite_snapshot.parse(bad.read_text(encoding="utf-8"))[1]) > 2
    try:
        assert not await sqlite_snapshot.create_if_empty(engine, migrate.head_revisions(), bad)
        assert await objects(engine) == []  # one transaction: nothing of it stays
        await migrate.upgrade(engine)
        assert await migrate.current_revisions(engine) == migrate.head_revisions()
    finally:
        await engine.dispose()
