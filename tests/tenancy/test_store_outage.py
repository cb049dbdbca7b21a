"""With the database away, the edge answers from what it knows, or 503: never a 500."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config.settings import Settings
from app.errors import ServiceUnavailable
from app.routing.index import CatalogIndex
from app.store.engine import create_engine, create_sessionmaker
from app.tenancy import admin
from app.tenancy.authn import Authenticator
from app.tenancy.principal import Scope
from app.tenancy.service import Tenancy
from tests.tenancy.conftest import MakeTenant, Sessions

PEPPER = b"pepper-for-tests"


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: connections are refused


@pytest.fixture
async def dead_sessions() -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{_dead_port()}/test")
    yield create_sessionmaker(engine)
    await engine.dispose()


async def test_an_unknown_key_with_the_store_away_is_503_not_500(
    dead_sessions: async_sessionmaker[AsyncSession],
) -> None:
    auth = Authenticator(dead_sessions, master_key=None, pepper=PEPPER, ttl_s=5)
    with pytest.raises(ServiceUnavailable) as info:
        await auth.authenticate("llr_0123456789ab_" + "x" * 40)
    assert info.value.status_code == 503 and info.value.headers["retry-after"] == "2"
    await auth.aclose()


async def test_a_known_key_keeps_its_verdict_while_the_store_is_away(
    sessions: Sessions, make_tenant: MakeTenant
) -> None:
    await make_tenant("acme")
    plaintext, _ = await admin.create_key(sessions, PEPPER, "acme", scopes=[Scope.ROUTE])
    now = [0.0]
    auth = Authenticator(sessions, master_key=None, pepper=PEPPER, ttl_s=5, clock=lambda: now[0])
    assert (await auth.authenticate(plaintext)).tenant_name == "acme"
    await auth.aclose()
    auth.sessions = create_sessionmaker(
        create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{_dead_port()}/test"))
    now[0] += 60  # the cache entry has expired: a lookup is due, and fails
    assert (await auth.authenticate(plaintext)).tenant_name == "acme"


async def test_tenant_limits_with_the_store_away_serve_the_request(
    dead_sessions: async_sessionmaker[AsyncSession], tmp_path: object
) -> None:
    tenancy = await Tenancy.open(Settings(), dead_sessions)
    try:
        assert await tenancy.policy_for("acme") is None
    finally:
        await tenancy.aclose()


async def test_a_budgeted_tenant_with_the_ledger_away_gets_503_and_spends_nothing(
    dead_sessions: async_sessionmaker[AsyncSession], index: CatalogIndex
) -> None:
    from decimal import Decimal
    from types import SimpleNamespace

    from app.config.enums import BudgetTier, TaskType
    from app.routing.engine import decide
    from app.routing.schemas import RouteRequest
    from app.tenancy.admission import admit
    from app.tenancy.principal import Kind, Principal, TenantPolicy, current

    policy = TenantPolicy(id="t-1", name="acme", daily_hard_limit_usd=Decimal("1"))
    tenancy = await Tenancy.open(Settings(), dead_sessions)
    token = current.set(Principal(kind=Kind.TENANT, scopes=frozenset({Scope.EXECUTE}),
                                  tenant=policy, key_id="k", key_prefix="p"))
    try:
        decision = decide(index, task_type=TaskType.CHAT, budget=BudgetTier.LOW, input_tokens=100,
                          tenant="acme")
        request = RouteRequest(task_type=TaskType.CHAT, budget=BudgetTier.LOW, context_size=100)
        ctx = SimpleNamespace(tenancy=tenancy, router=None, health=None, keyed_providers=None)
        with pytest.raises(ServiceUnavailable, match="budget ledger is unreachable"):
            await admit(ctx, request, decision, deadline_s=5)  # type: ignore[arg-type]
    finally:
        current.reset(token)
        await tenancy.aclose()
