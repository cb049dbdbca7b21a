"""`llm-router keys create | list | revoke`: tenants' API keys in the store of DATABASE_URL."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config.settings import Settings
from app.errors import RouterError
from app.store import migrate
from app.store.engine import create_engine, create_sessionmaker, database_url
from app.tenancy import admin
from app.tenancy.principal import TENANT_DEFAULT_SCOPES, Scope
from app.tenancy.settings import TenancySettings

T = TypeVar("T")
Action = Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]


async def _with_store(action: Action[T]) -> T:
    """Run against the configured store: SQLite is brought up to date, PostgreSQL must already be."""
    settings = Settings()
    url = database_url(settings)
    engine = create_engine(url)
    try:
        if engine.dialect.name == "sqlite":
            await migrate.upgrade_locked(engine, Path(settings.data_dir) / ".migrate.lock")
        else:
            await migrate.check_current(engine, url)
        return await action(create_sessionmaker(engine))
    finally:
        await engine.dispose()


def _run(action: Action[T]) -> T | None:
    try:
        return asyncio.run(_with_store(action))
    except RouterError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
    except migrate.SchemaOutOfDate as exc:
        print(f"error: {exc}", file=sys.stderr)
    return None


def _create(args: argparse.Namespace) -> int:
    scopes = sorted({Scope(s) for s in args.scope}) if args.scope else sorted(TENANT_DEFAULT_SCOPES)
    pepper = TenancySettings().pepper
    made = _run(lambda sessions: admin.create_key(sessions, pepper, args.tenant, scopes=scopes,
                                                   name=args.name, create_tenant=True))
    if made is None:
        return 1
    plaintext, key = made
    print(f"API key {key['id']} for tenant {key['tenant']} (prefix {key['prefix']}, "
          f"scopes {','.join(key['scopes'])}). It is shown once: store it now.")
    print(plaintext)
    return 0


def _list(args: argparse.Namespace) -> int:
    keys = _run(lambda sessions: admin.list_keys(sessions, args.tenant))
    if keys is None:
        return 1
    if args.json:
        print(json.dumps(keys, indent=2))
        return 0
    print(f"{'prefix':<14}{'tenant':<20}{'scopes':<28}{'created':<22}{'last used':<22}revoked")
    for k in keys:
        print(f"{k['prefix']:<14}{k['tenant']:<20}{','.join(k['scopes']):<28}{_short(k['created_at']):<22}"
              f"{_short(k['last_used_at']):<22}{_short(k['revoked_at'])}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    key = _run(lambda sessions: admin.revoke_key(sessions, args.key))
    if key is None:
        return 1
    print(f"revoked {key['prefix']} of tenant {key['tenant']} at {key['revoked_at']} "
          "(every replica refuses it within ROUTER_AUTH_CACHE_TTL_S)")
    return 0


def _short(value: Any) -> str:
    return "-" if value is None else str(value)[:19]


def register(subparsers: Any) -> None:
    """Add `keys create | list | revoke`."""
    keys = subparsers.add_parser("keys", help="tenants' API keys: create, list, revoke", description=__doc__)
    sub = keys.add_subparsers(dest="keys_command", required=True)
    create = sub.add_parser("create", help="make a key (the tenant is created if new); prints it once")
    create.add_argument("--tenant", required=True, help="tenant name")
    create.add_argument("--scope", action="append", choices=[s.value for s in Scope],
                        help="repeat for several (default: route, execute, analytics)")
    create.add_argument("--name", default=None, help="a label for the key")
    create.set_defaults(handler=_create)
    listing = sub.add_parser("list", help="list keys (prefixes and scopes, never the keys)")
    listing.add_argument("--tenant", default=None)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)
    revoke = sub.add_parser("revoke", help="revoke a key by id or prefix")
    revoke.add_argument("key")
    revoke.set_defaults(handler=_revoke)
