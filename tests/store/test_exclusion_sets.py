"""A decision's shared exclusions are stored once, as a set, and every reader gets the whole list back."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.analytics.decisions import list_decisions
from app.analytics.window import Window
from app.records import DecisionRecord
from app.routing.router import SmartLLMRouter
from app.routing.schemas import RouteRequest
from app.store import migrate
from app.store import repositories as repo
from app.store.engine import create_engine, create_sessionmaker, session_scope
from app.store.exclusion_sets import SHARED_KEY, DigestMemo, digest, exclusions_of, set_rows
from app.store.models import Decision
from app.store.rows import decision_row, decode, encode
from tests.store import factories
from tests.store.conftest import count_rows


def excl(model: str, reason: str = "budget", detail: str = "over the ceiling") -> dict[str, str]:
    return {"provider": "p", "model": model, "region": "us", "reason": reason, "detail": detail}


SHARED_A = [excl("a1"), excl("a2", "capability", "does not support task rag")]
SHARED_B = [excl("b1", "region", "not in eu")]


def with_shared(shared: list[dict[str, str]], own: list[dict[str, str]], **kw: Any) -> DecisionRecord:
    return factories.decision(excluded=[*shared, *own], shared_excluded=len(shared), **kw)


async def test_each_set_is_stored_once_and_every_decision_reads_its_whole_list(engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    own = [excl("c1", "context", "window 8192 < 9000 input + 500 output tokens")]
    first = [with_shared(SHARED_A, own), with_shared(SHARED_A, []), with_shared(SHARED_B, own)]
    second = [with_shared(SHARED_A, []), with_shared([], own), with_shared(SHARED_B, [])]
    async with session_scope(sessions) as session:
        assert await repo.insert_rows(session, "decision", [decision_row(r) for r in first]) == 3
    async with session_scope(sessions) as session:  # a later batch naming sets already stored
        assert await repo.insert_rows(session, "decision", [decision_row(r) for r in second]) == 3
    assert await count_rows(engine, "exclusion_sets") == 2
    async with sessions() as session:
        for record in [*first, *second]:
            stored = await repo.get_decision(session, record.id)
            assert stored is not None
            assert await exclusions_of(session, stored) == record.excluded
            # only the decision's own exclusions are on its row
            assert stored.excluded == record.excluded[record.shared_excluded:]
            assert (stored.excluded_set is None) == (record.shared_excluded == 0)


async def test_the_decisions_endpoint_query_returns_whole_lists(engine: AsyncEngine) -> None:
    now = dt.datetime.now(dt.UTC)
    records = [with_shared(SHARED_A, [excl("own")], created_at=now - dt.timedelta(seconds=i))
               for i in range(3)]
    legacy = factories.decision(created_at=now - dt.timedelta(seconds=10))  # no set: all inline
    async with session_scope(create_sessionmaker(engine)) as session:
        await repo.insert_rows(session, "decision", [decision_row(r) for r in [*records, legacy]])
    async with create_sessionmaker(engine)() as session:
        window = Window(now - dt.timedelta(hours=1), now + dt.timedelta(seconds=1))
        page = await list_decisions(session, window)
    got = {d["decision_id"]: d["excluded"] for d in page["decisions"]}
    assert got == {r.id: r.excluded for r in [*records, legacy]}


def test_a_spooled_decision_keeps_its_set_entries() -> None:
    record = with_shared(SHARED_A, [excl("own")])
    kind, row = decode(encode("decision", decision_row(record)))
    assert kind == "decision" and row[SHARED_KEY] == SHARED_A
    assert set_rows([row]) == [{"digest": row["excluded_set"], "excluded": SHARED_A,
                                "created_at": record.created_at}]


def test_the_digest_is_the_contents() -> None:
    a, b = decision_row(with_shared(SHARED_A, [])), decision_row(with_shared(SHARED_A, [excl("x")]))
    other = decision_row(with_shared([*SHARED_A[:1], excl("a2", "capability", "changed")], []))
    assert a["excluded_set"] == b["excluded_set"] != other["excluded_set"]
    assert len(set_rows([a, b, other])) == 2


def test_a_row_naming_a_set_without_its_entries_is_refused() -> None:
    row = decision_row(with_shared(SHARED_A, []))
    del row[SHARED_KEY]
    with pytest.raises(ValueError, match="without its entries"):
        set_rows([row])


def test_routed_decisions_share_their_static_exclusions() -> None:
    router = SmartLLMRouter(check_keys=False)
    small = router.decide(RouteRequest.model_validate({"task_type": "chat", "budget": "low",
                                                       "context_size": 2000}))
    # the same constraints with a context that some windows cannot hold: more own exclusions
    large = router.decide(RouteRequest.model_validate({"task_type": "chat", "budget": "low",
                                                       "context_size": 120_000}))
    rows = [decision_row(DecisionRecord.from_decision(d)) for d in (small, large)]
    assert small.shared_excluded > 0
    assert rows[0]["excluded_set"] == rows[1]["excluded_set"]
    assert any(e["reason"] == "context" for e in rows[1]["excluded"])
    assert len(rows[0][SHARED_KEY]) + len(rows[0]["excluded"]) == len(small.excluded)


async def _upgrade_store_downgrade(url: str, records: list[DecisionRecord]) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        async with session_scope(create_sessionmaker(engine)) as session:
            await repo.insert_rows(session, "decision", [decision_row(r) for r in records])
        await migrate.downgrade(engine, "0004_sqlite_rollups")
        decisions = Decision.__table__
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(decisions.c.id, decisions.c.excluded))).all()
            tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
        assert "exclusion_sets" not in tables
        return {str(i): e for i, e in rows}
    finally:
        await engine.dispose()


DOWNGRADE_RECORDS = [with_shared(SHARED_A, [excl("own")]), with_shared(SHARED_B, []), factories.decision()]


def test_downgrade_folds_the_sets_back_into_the_decisions_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fold.db'}"
    stored = asyncio.run(_upgrade_store_downgrade(url, DOWNGRADE_RECORDS))
    assert stored == {r.id: r.excluded for r in DOWNGRADE_RECORDS}


@pytest.mark.postgres
def test_downgrade_folds_the_sets_back_into_the_decisions_on_postgres(
    pg_empty_database: Callable[[], str],
) -> None:
    stored = asyncio.run(_upgrade_store_downgrade(pg_empty_database(), DOWNGRADE_RECORDS))
    assert stored == {r.id: r.excluded for r in DOWNGRADE_RECORDS}


def test_the_digest_memo_answers_by_identity_and_hashes_anything_else() -> None:
    memo = DigestMemo(size=2)
    entries = [excl("a1"), excl("a2")]
    first = memo.digest(entries)
    assert first == digest(entries)
    assert memo.digest(list(entries)) == first  # the same objects in another list
    equal_copies = [dict(e) for e in entries]
    assert memo.digest(equal_copies) == first  # equal content, hashed: the same digest
    other = [excl("b1")]
    assert memo.digest(other) == digest(other) != first
    # past its size it starts over rather than growing
    assert len(memo._memo) <= 2
