"""The write-behind writer on both databases: batches, duplicates, spooling, replay, bad rows."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.metrics import RECORDS_DROPPED, RECORDS_WRITTEN
from app.records import DecisionRecord
from app.store.engine import create_engine
from app.store.spool_records import SPOOL_CHUNK
from app.store.writer import RecordWriter
from tests.store import factories
from tests.store.conftest import count_rows

Make = Callable[..., RecordWriter]


def dropped_total() -> float:
    return float(RECORDS_DROPPED._value.get())


def broken_engine(tmp_path: Path) -> AsyncEngine:
    """A database that cannot be opened (a directory where the file should be)."""
    target = tmp_path / "not-a-db"
    target.mkdir(exist_ok=True)
    return create_engine(f"sqlite+aiosqlite:///{target}")


async def stored_ids(engine: AsyncEngine, table: str = "decisions") -> list[str]:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.text(f"SELECT id FROM {table}"))).scalars().all()
    return [str(r).replace("-", "") for r in rows]


def hex_ids(records: list[DecisionRecord]) -> set[str]:
    return {r.id.replace("-", "") for r in records}


async def test_everything_submitted_is_written_in_batches(engine: AsyncEngine, make_writer: Make) -> None:
    writer = make_writer(engine, batch_size=50)
    await writer.start()
    written_before = RECORDS_WRITTEN._value.get()
    decisions = [factories.decision() for _ in range(230)]
    for d in decisions:
        writer.submit_decision(d)
        writer.submit_attempts([factories.attempt(d.id, 0), factories.attempt(d.id, 1, is_fallback=True)])
    writer.submit_health_snapshots([factories.health("openai"), factories.health("cohere")])
    assert writer.pending == 230 * 3 + 2  # nothing was awaited: submit only queues
    assert await writer.flush(20)
    assert writer.pending == 0
    assert await count_rows(engine, "decisions") == 230
    assert await count_rows(engine, "attempts") == 460
    assert await count_rows(engine, "health_snapshots") == 2
    assert RECORDS_WRITTEN._value.get() - written_before == 692
    assert writer.stats.spooled == 0 and writer.stats.dropped == 0
    await writer.close()


async def test_a_backlog_is_written_in_batches_up_to_batch_max(
    engine: AsyncEngine, make_writer: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches fill to batch_size, but take what queued meanwhile, up to batch_max: a writer that
    falls behind writes bigger batches instead of letting the queue grow to the spool."""
    writer = make_writer(engine, batch_size=20, batch_max=150)
    sizes: list[int] = []
    insert = writer._insert

    async def counted(rows: list[Any]) -> None:
        sizes.append(len(rows))
        await insert(rows)

    monkeypatch.setattr(writer, "_insert", counted)
    for _ in range(400):  # queued before the writer starts: a backlog
        writer.submit_decision(factories.decision())
    await writer.start()
    assert await writer.flush(20)
    assert sizes == [150, 150, 100]
    for _ in range(15):  # below batch_size: one batch after batch_wait_s
        writer.submit_decision(factories.decision())
    assert await writer.flush(20)
    assert sizes[3:] == [15]
    assert await count_rows(engine, "decisions") == 415
    await writer.close()


async def test_resubmitted_records_are_stored_once(engine: AsyncEngine, make_writer: Make) -> None:
    writer = make_writer(engine)
    await writer.start()
    rec = factories.decision()
    writer.submit_decision(rec)
    assert await writer.flush(10)
    writer.submit_decision(rec)
    writer.submit_decision(factories.decision(id=rec.id, status="succeeded"))
    assert await writer.flush(10)
    assert await stored_ids(engine) == [rec.id.replace("-", "")]
    await writer.close()


async def test_a_full_queue_spills_to_the_spool_and_is_replayed(
    engine: AsyncEngine, make_writer: Make, tmp_path: Path
) -> None:
    # A long batch wait keeps records in the queue until it passes 80 %.
    writer = make_writer(engine, queue_size=20, batch_wait_s=5.0)
    await writer.start()
    decisions = [factories.decision() for _ in range(40)]
    for d in decisions[:16]:
        writer.submit_decision(d)
    assert writer.spooling, "the queue reached 80 % of 20"
    for d in decisions[16:]:
        writer.submit_decision(d)
    assert writer.stats.spooled == 40
    assert await writer.flush(20)
    assert not writer.spooling
    assert hex_ids(decisions) == set(await stored_ids(engine))
    assert list((tmp_path / "spool").glob("spool-*.jsonl")) == []
    await writer.close()


async def test_an_unreachable_database_spools_and_the_next_start_replays(
    engine: AsyncEngine, make_writer: Make, tmp_path: Path
) -> None:
    dropped = dropped_total()
    dead_db = broken_engine(tmp_path)
    down = make_writer(dead_db)
    await down.start()
    decisions = [factories.decision() for _ in range(25)]
    for d in decisions[:10]:
        down.submit_decision(d)
    assert not await down.flush(1.0)
    assert down.spooling, "no commit for longer than unreachable_s moves the queue to disk"
    for d in decisions[10:]:
        down.submit_decision(d)
    assert not await down.close(0.2)
    await dead_db.dispose()
    kinds = [orjson.loads(line)["k"] for p in (tmp_path / "spool").glob("spool-*.jsonl")
             for line in p.read_bytes().splitlines()]
    assert kinds == ["list", *["decision"] * 25]  # their one chain, once (tests/store/test_spool_lists.py)

    up = make_writer(engine)
    await up.start()
    assert up.pending == 25 and not up.spooling  # replayed beside new records, which skip the disk
    late = factories.decision()
    up.submit_decision(late)
    assert await up.flush(20)
    assert set(await stored_ids(engine)) == hex_ids([*decisions, late])
    assert list((tmp_path / "spool").glob("spool-*.jsonl")) == []
    assert up.stats.replayed == 25 and up.stats.spooled == 0
    assert dropped_total() == dropped
    await up.close()


async def test_a_running_writer_takes_over_a_spool_another_process_left(
    engine: AsyncEngine, make_writer: Make, tmp_path: Path
) -> None:
    """Two processes share the data directory; one stops past its flush deadline, its records on
    disk, while the other runs. The running one claims them at its next scan and stores them
    between its own batches, instead of leaving them for its next start; its own records keep
    going straight to the database, none through the spool."""
    up = make_writer(engine, orphan_scan_s=0.1)
    await up.start()
    early = factories.decision()
    up.submit_decision(early)
    assert await up.flush(20)
    dead_db = broken_engine(tmp_path)
    down = make_writer(dead_db)  # the same spool directory
    await down.start()
    left = [factories.decision() for _ in range(30)]
    for d in left:
        down.submit_decision(d)
    assert not await down.flush(1.0)
    assert not await down.close(0.2)
    await dead_db.dispose()
    assert list((tmp_path / "spool").glob("spool-*.jsonl")), "the stopped writer's records are on disk"
    late: list[DecisionRecord] = []
    for _ in range(200):
        late.append(factories.decision())
        up.submit_decision(late[-1])
        assert not up.spooling
        if hex_ids(left) <= set(await stored_ids(engine)):
            break
        await asyncio.sleep(0.05)
    assert await up.flush(20)
    assert set(await stored_ids(engine)) == hex_ids([early, *left, *late])
    assert up.stats.replayed == len(left) and up.stats.spooled == 0
    assert list((tmp_path / "spool").glob("spool-*")) == []


async def test_a_long_queue_moves_to_the_spool_a_chunk_at_a_time(
    make_writer: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An outage moves the whole queue to disk; it is encoded and written SPOOL_CHUNK records at a
    time (a soak's 10,000 queued records, encoded at once, took ~100 MiB), in order, none lost."""
    dead_db = broken_engine(tmp_path)
    down = make_writer(dead_db, queue_size=10 * SPOOL_CHUNK, batch_wait_s=5.0)
    appended: list[int] = []
    append = down._spool.append

    def counted(lines: list[bytes], lists: Iterable[str] = ()) -> None:
        appended.append(sum(not line.startswith(b'{"k":"list"') for line in lines))
        append(lines, lists)

    monkeypatch.setattr(down._spool, "append", counted)
    await down.start()
    decisions = [factories.decision() for _ in range(3 * SPOOL_CHUNK + 5)]
    for d in decisions:
        down.submit_decision(d)
    assert not down.spooling  # all of them wait in the queue, under 80 % of it
    assert not await down.flush(1.0)
    assert down.spooling, "the database stayed unreachable: the queue went to disk"
    assert appended == [SPOOL_CHUNK, SPOOL_CHUNK, SPOOL_CHUNK, 5]
    spooled = [r["r"]["id"] for p in sorted((tmp_path / "spool").glob("spool-*.jsonl"))
               for line in p.read_bytes().splitlines() if (r := orjson.loads(line))["k"] != "list"]
    assert spooled == [d.id for d in decisions]
    assert down.stats.spooled == len(decisions) and down.stats.dropped == 0
    await down.close(0.2)
    await dead_db.dispose()


async def test_shutdown_spools_what_it_could_not_flush(
    engine: AsyncEngine, make_writer: Make, tmp_path: Path
) -> None:
    writer = make_writer(engine, batch_wait_s=5.0)
    await writer.start()
    decisions = [factories.decision() for _ in range(7)]
    for d in decisions:
        writer.submit_decision(d)
    assert not await writer.close(0)  # no time at all: everything goes to disk
    assert await count_rows(engine, "decisions") == 0
    writer.submit_decision(late := factories.decision())  # after close: straight to disk, fsynced
    spooled = [r["r"]["id"] for p in sorted((tmp_path / "spool").glob("spool-*.jsonl"))
               for line in p.read_bytes().splitlines() if (r := orjson.loads(line))["k"] != "list"]
    assert spooled == [d.id for d in decisions] + [late.id]


async def test_rows_the_database_refuses_go_to_the_dead_letter_file(
    engine: AsyncEngine, make_writer: Make, tmp_path: Path
) -> None:
    dropped = dropped_total()
    writer = make_writer(engine)
    await writer.start()
    good = [factories.decision() for _ in range(5)]
    bad_id = factories.decision(id="not-a-uuid")
    missing = factories.decision(task_type=None)  # NOT NULL
    for d in [*good[:2], bad_id, *good[2:4], missing, good[4]]:
        writer.submit_decision(d)
    assert await writer.flush(10), "a bad row must not block the others"
    assert set(await stored_ids(engine)) == hex_ids(good)
    assert writer.stats.rejected == 2
    dead = [orjson.loads(line) for line in
            (tmp_path / "spool" / "dead-letter.jsonl").read_bytes().splitlines()]
    assert [e["record"]["r"]["id"] for e in dead] == ["not-a-uuid", missing.id]
    assert all(e["error"] for e in dead)
    assert dropped_total() == dropped
    await writer.close()


async def test_a_failed_spool_write_is_counted_as_dropped(
    engine: AsyncEngine, make_writer: Make, tmp_path: Path
) -> None:
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the spool directory should be")
    dropped = dropped_total()
    writer = make_writer(engine, spool_dir=blocker / "spool", queue_size=10)
    await writer.start()
    for _ in range(8):
        writer.submit_decision(factories.decision())
    assert writer.spooling
    assert writer.stats.dropped == 8
    assert dropped_total() - dropped == 8
    await writer.close(0)
