"""The authenticator against the store: master key, tenant keys, revocation within the cache TTL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from app.errors import Unauthorized
from app.store.models import ApiKey
from app.tenancy import admin
from app.tenancy.authn import Authenticator
from app.tenancy.principal import Kind, Scope
from tests.tenancy.conftest import MakeTenant, Sessions

MakeAuth = Callable[..., Authenticator]


@pytest.fixture
async def make_auth(sessions: Sessions) -> AsyncIterator[MakeAuth]:
    """Authenticators closed before the engine is disposed: their last-use writes run in the
    background and would otherwise leave a connection open past the test."""
    made: list[Authenticator] = []

    def make(**kwargs: Any) -> Authenticator:
        auth = Authenticator(sessions, **kwargs)
        made.append(auth)
        return auth

    yield make
    for auth in made:
        await auth.aclose()

PEPPER = b"pepper"
MASTER = "master-key-for-tests-0123456789"


class Ticker:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def count_key_lookups(sessions: Sessions) -> list[str]:
    """Statements that read api_keys, seen at the engine (the real database is still queried)."""
    seen: list[str] = []
    engine = sessions.kw["bind"].sync_engine

    @event.listens_for(engine, "before_cursor_execute")
    def _record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "api_keys" in statement:
            seen.append(statement)

    return seen


async def test_master_key_is_admin_and_other_strings_are_refused(
    make_auth: MakeAuth, sessions: Sessions) -> None:
    auth = make_auth(master_key=MASTER, pepper=PEPPER, ttl_s=5)
    principal = await auth.authenticate(MASTER)
    assert principal.kind is Kind.ADMIN and principal.can(Scope.ADMIN) and principal.tenant is None
    for wrong in [MASTER[:-1], MASTER + "x", "", "llr_0123456789ab_nope"]:
        with pytest.raises(Unauthorized):
            await auth.authenticate(wrong)


async def test_a_tenant_key_resolves_to_its_tenant_scopes_and_limits(
    make_auth: MakeAuth, sessions: Sessions,
                                                                     make_tenant: MakeTenant) -> None:
    await make_tenant("acme", rate_limit_rpm=60)
    plaintext, listed = await admin.create_key(sessions, PEPPER, "acme", scopes=[Scope.ROUTE])
    auth = make_auth(master_key=MASTER, pepper=PEPPER, ttl_s=5)
    principal = await auth.authenticate(plaintext)
    assert principal.kind is Kind.TENANT and principal.restricted
    assert principal.tenant_name == "acme" and principal.tenant is not None
    assert principal.tenant.rate_limit_rpm == 60
    assert principal.scopes == frozenset({Scope.ROUTE}) and principal.key_id == listed["id"]
    # Same prefix, another secret: refused (the prefix alone is not a credential).
    forged = plaintext[: plaintext.rindex("_") + 1] + "A" * 43
    with pytest.raises(Unauthorized):
        await auth.authenticate(forged)
    # A key hashed under another pepper does not verify.
    other = make_auth(master_key=None, pepper=b"other", ttl_s=5)
    with pytest.raises(Unauthorized):
        await other.authenticate(plaintext)


async def test_revocation_is_immediate_here_and_within_the_ttl_elsewhere(
    make_auth: MakeAuth, sessions: Sessions,
                                                                         make_tenant: MakeTenant) -> None:
    await make_tenant("acme")
    plaintext, listed = await admin.create_key(sessions, PEPPER, "acme", scopes=[Scope.ROUTE])
    clock_a, clock_b = Ticker(), Ticker()
    here = make_auth(master_key=None, pepper=PEPPER, ttl_s=5, clock=clock_a)
    elsewhere = make_auth(master_key=None, pepper=PEPPER, ttl_s=5, clock=clock_b)
    await here.authenticate(plaintext)
    await elsewhere.authenticate(plaintext)

    await admin.revoke_key(sessions, listed["prefix"])
    here.forget(listed["id"])  # what the admin endpoint does on the replica that revoked
    with pytest.raises(Unauthorized):
        await here.authenticate(plaintext)
    clock_b.now += 4.9
    assert (await elsewhere.authenticate(plaintext)).tenant_name == "acme"  # still cached: the bound
    clock_b.now += 0.2
    with pytest.raises(Unauthorized):
        await elsewhere.authenticate(plaintext)


async def test_warm_keys_cost_no_query_and_a_cold_burst_shares_one(
    make_auth: MakeAuth, sessions: Sessions,
                                                                   make_tenant: MakeTenant) -> None:
    await make_tenant("acme")
    plaintext, _ = await admin.create_key(sessions, PEPPER, "acme", scopes=[Scope.ROUTE])
    lookups = count_key_lookups(sessions)
    auth = make_auth(master_key=None, pepper=PEPPER, ttl_s=60)
    principals = await asyncio.gather(*(auth.authenticate(plaintext) for _ in range(25)))
    assert {p.tenant_name for p in principals} == {"acme"}
    assert len(lookups) == 1
    for _ in range(100):
        await auth.authenticate(plaintext)
    assert len(lookups) == 1


async def test_last_use_is_recorded_off_the_request_path(
    make_auth: MakeAuth, sessions: Sessions, make_tenant: MakeTenant) -> None:
    await make_tenant("acme")
    plaintext, listed = await admin.create_key(sessions, PEPPER, "acme", scopes=[Scope.ROUTE])
    assert listed["last_used_at"] is None
    auth = make_auth(master_key=None, pepper=PEPPER, ttl_s=5)
    await auth.authenticate(plaintext)
    for _ in range(100):
        async with sessions() as session:
            used = await session.scalar(sa.select(ApiKey.last_used_at).where(ApiKey.id == listed["id"]))
        if used is not None:
            break
        await asyncio.sleep(0.02)
    assert used is not None
