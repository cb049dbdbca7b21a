"""Throw-away PostgreSQL databases for tests: created by name on the shared server, dropped after."""

from __future__ import annotations

import os
import secrets

import asyncpg

ADMIN_DSN = os.environ.get("ROUTER_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
HOST = "127.0.0.1"
PORT = 5432


def unique_name(prefix: str = "router_test") -> str:
    return f"{prefix}_{secrets.token_hex(6)}"


def sqlalchemy_url(name: str, *, host: str = HOST, port: int = PORT) -> str:
    return f"postgresql+asyncpg://postgres@{host}:{port}/{name}"


async def create_database(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def reachable() -> str | None:
    """None if the server answers, else why not."""
    try:
        conn = await asyncpg.connect(ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None
