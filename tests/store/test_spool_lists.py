"""A spooled decision's chain and shared exclusions go to its spool segment once, and replay whole."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from app.analytics.decisions import list_decisions
from app.analytics.window import Window
from app.records import DecisionRecord
from app.store.batch import store_batch
from app.store.decision_lists import StoredLists
from app.store.engine import create_sessionmaker
from app.store.rows import decode
from app.store.spool import Spool
from app.store.writer import RecordWriter
from tests.store.conftest import count_rows
from tests.store.test_decision_lists import SHARED_A, SHARED_B, excl, record, whole_chain
from tests.store.test_writer import broken_engine

Make = Callable[..., RecordWriter]


def spooled(directory: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for p in sorted(directory.glob("spool-*.jsonl"))
            for line in p.read_bytes().splitlines()]


async def spool_while_down(make_writer: Make, tmp_path: Path, records: list[DecisionRecord]) -> None:
    """A writer whose database cannot be opened: everything it is given goes to the spool."""
    dead_db = broken_engine(tmp_path)
    down = make_writer(dead_db)
    await down.start()
    for rec in records:
        down.submit_decision(rec)
    assert not await down.flush(1.0)
    assert down.spooling
    assert not await down.close(0.2)
    await dead_db.dispose()


async def read_back(engine: AsyncEngine) -> dict[str, tuple[object, object]]:
    now = dt.datetime.now(dt.UTC)
    async with create_sessionmaker(engine)() as session:
        window = Window(now - dt.timedelta(hours=1), now + dt.timedelta(seconds=1))
        page = await list_decisions(session, window)
    return {d["decision_id"]: (d["chain"], d["excluded"]) for d in page["decisions"]}


def mixed(n: int) -> list[DecisionRecord]:
    own = [excl("c1", "context", "window too small")]
    return [record(SHARED_A if i % 2 else SHARED_B, own if i % 3 == 0 else []) for i in range(n)]


async def test_a_segment_holds_each_list_once_and_replays_every_decision_whole(
    engine: AsyncEngine, make_writer: Make, tmp_path: Path
) -> None:
    records = mixed(30)
    await spool_while_down(make_writer, tmp_path, records)
    lines = spooled(tmp_path / "spool")
    lists = [line for line in lines if line["k"] == "list"]
    decisions = [line for line in lines if line["k"] == "decision"]
    assert len(decisions) == 30
    assert sorted(len(line["r"]["entries"]) for line in lists) == [1, 2, 2]  # SHARED_B, SHARED_A, CHAIN_A
    assert all("chain_entries" not in d["r"] and "excluded_shared" not in d["r"] for d in decisions)
    position = {line["r"]["digest"]: i for i, line in enumerate(lines) if line["k"] == "list"}
    for i, line in enumerate(lines):  # every list comes before the first decision naming it
        if line["k"] == "decision":
            assert all(position[line["r"][c]] < i for c in ("chain_set", "excluded_set"))

    up = make_writer(engine)
    await up.start()
    assert await up.flush(20)
    assert up.stats.replayed == 30  # records, not the list lines
    assert await count_rows(engine, "decision_lists") == 3
    got = await read_back(engine)
    assert got == {r.id: (whole_chain(r), r.excluded) for r in records}
    assert spooled(tmp_path / "spool") == []


async def test_a_segment_resumed_past_its_list_lines_finds_them_stored(
    engine: AsyncEngine, make_writer: Make, tmp_path: Path
) -> None:
    """A process stopped after committing the lists and a few decisions: its heir resumes at the
    mark, where the decisions carry only digests, and every one still reads back whole."""
    records = mixed(20)
    await spool_while_down(make_writer, tmp_path, records)
    owner = Spool(tmp_path / "spool")
    assert owner.claim_orphans() == 20  # the records (its 3 lists are lines, not records)
    lines, cursor, _ = owner.read(8)
    assert cursor is not None and sum(decode(line)[0] == "list" for line in lines) == 3
    await store_batch(create_sessionmaker(engine), [decode(line) for line in lines], StoredLists())
    owner.advance(cursor)
    owner.close()  # stopped here: the mark says how far

    heir = make_writer(engine)
    await heir.start()
    assert await heir.flush(20)
    assert heir.stats.replayed == 15  # only what the owner left
    assert await count_rows(engine, "decision_lists") == 3
    assert await read_back(engine) == {r.id: (whole_chain(r), r.excluded) for r in records}


async def test_a_new_segment_writes_its_lists_again(
    engine: AsyncEngine, make_writer: Make, tmp_path: Path
) -> None:
    """Once a segment is replayed and removed, the next one is self-contained."""
    first, second = mixed(4), mixed(4)
    await spool_while_down(make_writer, tmp_path, first)
    up = make_writer(engine)
    await up.start()
    assert await up.flush(20)
    await up.close()
    await spool_while_down(make_writer, tmp_path, second)
    assert sum(line["k"] == "list" for line in spooled(tmp_path / "spool")) == 3
    again = make_writer(engine)
    await again.start()
    assert await again.flush(20)
    assert await read_back(engine) == {r.id: (whole_chain(r), r.excluded) for r in [*first, *second]}
