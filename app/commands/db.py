"""`llm-router db upgrade | current | downgrade`: the schema of DATABASE_URL, by Alembic; and
`llm-router db snapshot`: the SQLite head schema new databases are created from."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from app.config.settings import Settings
from app.store import migrate, sqlite_snapshot
from app.store.engine import create_engine, database_url, redacted


def register(subparsers: Any) -> None:
    db = subparsers.add_parser("db", help="database schema: upgrade, current, downgrade")
    sub = db.add_subparsers(dest="db_command", required=True)
    up = sub.add_parser("upgrade", help="apply migrations (default: up to the newest)")
    up.add_argument("revision", nargs="?", default="heads")
    up.set_defaults(handler=_upgrade)
    cur = sub.add_parser("current", help="print the database's revision and the code's")
    cur.set_defaults(handler=_current)
    down = sub.add_parser("downgrade", help="revert migrations down to REVISION ('base': all)")
    down.add_argument("revision")
    down.set_defaults(handler=_downgrade)
    snap = sub.add_parser("snapshot", help="write the SQLite schema the migrations reach, which the "
                                           "service creates new SQLite databases from (for developers)")
    snap.add_argument("--check", action="store_true", help="only say whether the shipped one is current")
    snap.set_defaults(handler=_snapshot)


def _url() -> str:
    return database_url(Settings())


async def _run(action: str, revision: str) -> tuple[str, ...]:
    url = _url()
    engine = create_engine(url)
    try:
        if action == "upgrade":
            await migrate.upgrade(engine, revision)
        elif action == "downgrade":
            await migrate.downgrade(engine, revision)
        return await migrate.current_revisions(engine)
    finally:
        await engine.dispose()


def _upgrade(args: argparse.Namespace) -> int:
    try:
        current = asyncio.run(_run("upgrade", args.revision))
    except Exception as exc:
        print(f"upgrade of {redacted(_url())} failed: {exc}", file=sys.stderr)
        return 1
    print(f"{redacted(_url())} is at revision {migrate.describe(current)} "
          f"(code head {migrate.describe(migrate.head_revisions())})")
    return 0


def _downgrade(args: argparse.Namespace) -> int:
    try:
        current = asyncio.run(_run("downgrade", args.revision))
    except Exception as exc:
        print(f"downgrade of {redacted(_url())} failed: {exc}", file=sys.stderr)
        return 1
    print(f"{redacted(_url())} is at revision {migrate.describe(current)}")
    return 0


def _current(args: argparse.Namespace) -> int:
    try:
        current = asyncio.run(_run("current", ""))
    except Exception as exc:
        print(f"cannot read the schema revision of {redacted(_url())}: {exc}", file=sys.stderr)
        return 1
    heads = migrate.head_revisions()
    state = "up to date" if current == heads else "not at head: run `llm-router db upgrade`"
    print(f"{redacted(_url())}: revision {migrate.describe(current)}, code head "
          f"{migrate.describe(heads)} ({state})")
    return 0 if current == heads else 3


async def migrated_snapshot() -> str:
    """The snapshot of a scratch SQLite database upgraded to the heads by Alembic."""
    with tempfile.TemporaryDirectory(prefix="llm-router-snapshot-") as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'schema.db'}")
        try:
            await migrate.upgrade(engine)
            heads = await migrate.current_revisions(engine)
            async with engine.connect() as conn:
                return await conn.run_sync(sqlite_snapshot.dump, heads)
        finally:
            await engine.dispose()


def _snapshot(args: argparse.Namespace) -> int:
    fresh = asyncio.run(migrated_snapshot())
    path = sqlite_snapshot.SNAPSHOT_PATH
    current = path.read_text(encoding="utf-8") if path.exists() else None
    if args.check:
        print(f"{path} is {'current' if current == fresh else 'out of date: run `llm-router db snapshot`'}")
        return 0 if current == fresh else 3
    path.write_text(fresh, encoding="utf-8")
    print(f"wrote {path} ({migrate.describe(sqlite_snapshot.parse(fresh)[0])})")
    return 0
