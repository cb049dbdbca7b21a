"""A decision's chain and shared exclusions are stored once each, and every reader gets them whole."""

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
from app.store.decision_lists import (
    CHAIN_KEY,
    SHARED_KEY,
    DigestMemo,
    StoredLists,
    chain_with_costs,
    digest,
    list_rows,
    lists_of,
)
from app.store.engine import create_engine, create_sessionmaker, session_scope
from app.store.models import Decision
from app.store.rows import decision_row, decode, encode
from tests.store import factories
from tests.store.conftest import count_rows


def excl(model: str, reason: str = "budget", detail: str = "over the ceiling") -> dict[str, str]:
    return {"provider": "p", "model": model, "region": "us", "reason": reason, "detail": detail}


def entry(model: str, input_price: float = 0.15, output_price: float = 0.6) -> dict[str, Any]:
    """A chain entry as the router records it: prices, no per-request cost."""
    return {"provider": "p", "model": model, "region": "us", "input_price": input_price,
            "output_price": output_price, "score": 0.9}


SHARED_A = [excl("a1"), excl("a2", "capability", "does not support task rag")]
SHARED_B = [excl("b1", "region", "not in eu")]
CHAIN_A = [entry("m1"), entry("m2", 3.0, 15.0)]


def record(shared: list[dict[str, str]], own: list[dict[str, str]], chain: list[dict[str, Any]] | None = None,
           **kw: Any) -> DecisionRecord:
    return factories.decision(excluded=[*shared, *own], shared_excluded=len(shared),
                              chain=CHAIN_A if chain is None else chain, **kw)


def whole_chain(rec: DecisionRecord) -> list[dict[str, Any]]:
    return chain_with_costs(rec.chain, rec.input_tokens, rec.output_tokens)


async def test_each_list_is_stored_once_and_every_decision_reads_its_whole_lists(engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    own = [excl("c1", "context", "window 8192 < 9000 input + 500 output tokens")]
    first = [record(SHARED_A, own), record(SHARED_A, [], input_tokens=7), record(SHARED_B, own)]
    second = [record(SHARED_A, []), record([], own, chain=[]), record(SHARED_B, [], chain=CHAIN_A[:1])]
    async with session_scope(sessions) as session:
        assert await repo.insert_rows(session, "decision", [decision_row(r) for r in first]) == 3
    async with session_scope(sessions) as session:  # a later batch naming lists already stored
        assert await repo.insert_rows(session, "decision", [decision_row(r) for r in second]) == 3
    assert await count_rows(engine, "decision_lists") == 4  # SHARED_A, SHARED_B, CHAIN_A, its head
    async with sessions() as session:
        for rec in [*first, *second]:
            stored = await repo.get_decision(session, rec.id)
            assert stored is not None
            assert await lists_of(session, stored) == (whole_chain(rec), rec.excluded)
            # only the decision's own exclusions are on its row
            assert stored.excluded == rec.excluded[rec.shared_excluded:]
            assert (stored.excluded_set is None) == (rec.shared_excluded == 0)
            assert (stored.chain_set is None) == (rec.chain == []) and stored.chain == []


def test_a_chain_entry_cost_follows_from_its_prices_and_the_tokens() -> None:
    costed = chain_with_costs(CHAIN_A, 2000, 500)
    assert [c["estimated_cost_usd"] for c in costed] == [(2000 * 0.15 + 500 * 0.6) / 1e6,
                                                         (2000 * 3.0 + 500 * 15.0) / 1e6]
    kept = [{"provider": "x", "estimated_cost_usd": 0.5}, {"provider": "no prices"}]
    assert chain_with_costs(kept, 2000, 500) == kept  # inline (older) entries stay as they are


async def test_the_decisions_endpoint_query_returns_whole_lists(engine: AsyncEngine) -> None:
    now = dt.datetime.now(dt.UTC)
    records = [record(SHARED_A, [excl("own")], created_at=now - dt.timedelta(seconds=i), input_tokens=10 * i)
               for i in range(3)]
    legacy = factories.decision(created_at=now - dt.timedelta(seconds=10))  # no lists: all inline
    async with session_scope(create_sessionmaker(engine)) as session:
        await repo.insert_rows(session, "decision", [decision_row(r) for r in [*records, legacy]])
    async with create_sessionmaker(engine)() as session:
        window = Window(now - dt.timedelta(hours=1), now + dt.timedelta(seconds=1))
        page = await list_decisions(session, window)
    got = {d["decision_id"]: (d["chain"], d["excluded"]) for d in page["decisions"]}
    assert got == {r.id: (whole_chain(r), r.excluded) for r in [*records, legacy]}


def test_a_spooled_decision_keeps_its_lists_entries() -> None:
    rec = record(SHARED_A, [excl("own")])
    kind, row = decode(encode("decision", decision_row(rec)))
    assert kind == "decision" and row[SHARED_KEY] == SHARED_A and row[CHAIN_KEY] == CHAIN_A
    assert list_rows([row]) == [
        {"digest": row["chain_set"], "entries": CHAIN_A, "created_at": rec.created_at},
        {"digest": row["excluded_set"], "entries": SHARED_A, "created_at": rec.created_at},
    ]


def test_the_digest_is_the_contents() -> None:
    a, b = decision_row(record(SHARED_A, [])), decision_row(record(SHARED_A, [excl("x")]))
    other = decision_row(record([*SHARED_A[:1], excl("a2", "capability", "changed")], []))
    assert a["excluded_set"] == b["excluded_set"] != other["excluded_set"]
    assert a["chain_set"] == b["chain_set"] == other["chain_set"]
    assert len(list_rows([a, b, other])) == 3


def test_lists_spooled_on_their_own_lines_join_the_batch_once() -> None:
    """A decision replayed from the spool names its lists without their entries (they were on
    lines of their own before it, stored with those): only the lists given are sent."""
    carried, replayed = decision_row(record(SHARED_A, [])), decision_row(record(SHARED_B, []))
    del replayed[SHARED_KEY], replayed[CHAIN_KEY]
    shared_b = {"digest": replayed["excluded_set"], "entries": SHARED_B, "created_at": replayed["created_at"]}
    got = list_rows([carried, replayed], spooled=[shared_b])
    assert [r["digest"] for r in got] == [shared_b["digest"], carried["chain_set"], carried["excluded_set"]]
    assert list_rows([replayed]) == []  # its lists are stored already
    shared_a = {"digest": carried["excluded_set"], "entries": SHARED_A, "created_at": carried["created_at"]}
    assert list_rows([carried], stored={carried["chain_set"]}, spooled=[shared_b]) == [shared_b, shared_a]


def test_routed_decisions_share_their_lists() -> None:
    router = SmartLLMRouter(check_keys=False)
    small = router.decide(RouteRequest.model_validate({"task_type": "chat", "budget": "low",
                                                       "context_size": 2000}))
    # the same constraints with a context that some windows cannot hold: more own exclusions
    large = router.decide(RouteRequest.model_validate({"task_type": "chat", "budget": "low",
                                                       "context_size": 120_000}))
    again = router.decide(RouteRequest.model_validate({"task_type": "chat", "budget": "low",
                                                       "context_size": 3000}))
    rows = [decision_row(DecisionRecord.from_decision(d)) for d in (small, large, again)]
    assert small.shared_excluded > 0
    assert rows[0]["excluded_set"] == rows[1]["excluded_set"] == rows[2]["excluded_set"]
    assert rows[0]["chain_set"] == rows[2]["chain_set"]  # other tokens, the same chain
    assert any(e["reason"] == "context" for e in rows[1]["excluded"])
    assert len(rows[0][SHARED_KEY]) + len(rows[0]["excluded"]) == len(small.excluded)
    # the recorded chain gives back the costs the router estimated
    costed = chain_with_costs(rows[0][CHAIN_KEY], small.input_tokens, small.output_tokens)
    assert [c["estimated_cost_usd"] for c in costed] == [
        s.candidate.estimate_cost_float(small.input_tokens, small.output_tokens) for s in small.chain]


def test_the_digest_memo_answers_by_identity_and_hashes_anything_else() -> None:
    memo = DigestMemo(size=2)
    entries = [excl("a1"), excl("a2")]
    first = memo.digest(entries)
    assert first == digest(entries)
    assert memo.digest(list(entries)) == first  # the same objects in another list
    assert memo.digest([dict(e) for e in entries]) == first  # equal copies, hashed: the same digest
    middle = [entries[0], excl("changed"), entries[1]]
    assert memo.digest(middle) == digest(middle)
    other = [excl("b1")]
    assert memo.digest(other) == digest(other) != first
    assert len(memo._memo) <= 2  # past its size it starts over rather than growing


async def _upgrade_store_downgrade(url: str, records: list[DecisionRecord]) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        async with session_scope(create_sessionmaker(engine)) as session:
            await repo.insert_rows(session, "decision", [decision_row(r) for r in records])
        await migrate.downgrade(engine, "0004_sqlite_rollups")
        decisions = Decision.__table__
        async with engine.connect() as conn:
            columns = (decisions.c.id, decisions.c.chain, decisions.c.excluded)
            rows = (await conn.execute(sa.select(*columns))).all()
            tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
        assert "decision_lists" not in tables
        return {str(i): (c, e) for i, c, e in rows}
    finally:
        await engine.dispose()


DOWNGRADE_RECORDS = [record(SHARED_A, [excl("own")]), record(SHARED_B, [], chain=[]), factories.decision()]


def test_downgrade_folds_the_lists_back_into_the_decisions_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fold.db'}"
    stored = asyncio.run(_upgrade_store_downgrade(url, DOWNGRADE_RECORDS))
    assert stored == {r.id: (whole_chain(r), r.excluded) for r in DOWNGRADE_RECORDS}


@pytest.mark.postgres
def test_downgrade_folds_the_lists_back_into_the_decisions_on_postgres(
    pg_empty_database: Callable[[], str],
) -> None:
    stored = asyncio.run(_upgrade_store_downgrade(pg_empty_database(), DOWNGRADE_RECORDS))
    assert stored == {r.id: (whole_chain(r), r.excluded) for r in DOWNGRADE_RECORDS}


def test_lists_known_to_be_stored_are_not_sent_again() -> None:
    rows = [decision_row(record(SHARED_A, [])), decision_row(record(SHARED_B, []))]
    stored = StoredLists(size=3)
    assert len(list_rows(rows, stored)) == 3  # CHAIN_A, SHARED_A, SHARED_B
    stored.add([rows[0]["chain_set"], rows[0]["excluded_set"]])
    assert list_rows(rows, stored) == [
        {"digest": rows[1]["excluded_set"], "entries": SHARED_B, "created_at": rows[1]["created_at"]}]
    stored.add([rows[1]["excluded_set"], "another"])
    assert list_rows(rows, stored) == []
    stored.add(["one more"])  # past its size: starts over rather than growing
    assert "one more" in stored and rows[0]["chain_set"] not in stored


async def test_a_spool_line_from_before_the_lists_is_stored_inline(engine: AsyncEngine) -> None:
    rec = factories.decision(chain=[{**CHAIN_A[0], "estimated_cost_usd": 0.0006}])
    old = {k: v for k, v in decision_row(rec).items()
           if k not in {"chain_set", "excluded_set", CHAIN_KEY, SHARED_KEY}}
    old["chain"] = rec.chain  # the row as the writer made it before revision 0005
    kind, row = decode(encode("decision", old))
    assert kind == "decision"
    async with session_scope(create_sessionmaker(engine)) as session:
        assert await repo.insert_rows(session, "decision", [row]) == 1
    async with create_sessionmaker(engine)() as session:
        stored = await repo.get_decision(session, rec.id)
        assert stored is not None and stored.chain_set is None and stored.excluded_set is None
        assert await lists_of(session, stored) == (rec.chain, rec.excluded)


async def test_after_a_failed_write_the_writer_sends_its_lists_again(
    engine: AsyncEngine, make_writer: Callable[..., Any]
) -> None:
    writer = make_writer(engine)
    await writer.start()
    first, second = record(SHARED_A, []), record(SHARED_A, [excl("own")])
    writer.submit_decision(first)
    assert await writer.flush(10)
    async with engine.begin() as conn:  # as if the database were now a standby that lacks them,
        await conn.execute(sa.text("DELETE FROM decision_lists"))
        await conn.execute(sa.text("ALTER TABLE decisions RENAME TO decisions_away"))  # and failing
    writer.submit_decision(second)
    assert not await writer.flush(0.5) and writer.stats.failures > 0
    async with engine.begin() as conn:
        await conn.execute(sa.text("ALTER TABLE decisions_away RENAME TO decisions"))
    assert await writer.flush(10)
    async with create_sessionmaker(engine)() as session:
        stored = await repo.get_decision(session, second.id)
        assert stored is not None
        assert await lists_of(session, stored) == (whole_chain(second), second.excluded)
    await writer.close()
