"""The SQLite writer process: what it stores is what aiosqlite's thread stores, and a dead,
stopped or signalled child costs no record and stores none twice."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.records import AttemptRecord, DecisionRecord, Outcome
from app.store.engine import create_engine, create_sessionmaker
from app.store.lifecycle import sqlite_writer_process
from app.store.options import WriterOptions
from app.store.spool import Spool
from app.store.sqlite_process import SqliteWriterProcess, error_from
from app.store.writer import RecordWriter
from tests.store import factories
from tests.store.conftest import count_rows, fast_options


@pytest.fixture
async def engines(tmp_path: Path, migrated_sqlite: Path) -> AsyncIterator[dict[str, AsyncEngine]]:
    """Two copies of the migrated database: one written through the process, one through the thread."""
    made = {}
    for name in ("process", "thread"):
        path = tmp_path / name / "router.db"
        path.parent.mkdir()
        shutil.copy(migrated_sqlite, path)
        made[name] = create_engine(f"sqlite+aiosqlite:///{path}")
    yield made
    for engine in made.values():
        await engine.dispose()


async def started(engine: AsyncEngine, spool: Path, *, process: bool = True, **options: float | int
                  ) -> RecordWriter:
    """A started writer on `engine`, its batches in a writer process unless `process` is False."""
    child = SqliteWriterProcess(str(engine.url.database), engine.dialect) if process else None
    writer = RecordWriter(create_sessionmaker(engine), Spool(spool), fast_options(**options), child)
    await writer.start()
    return writer


def child_of(writer: RecordWriter) -> SqliteWriterProcess:
    assert writer.sqlite_process is not None
    return writer.sqlite_process


Request = tuple[DecisionRecord, list[AttemptRecord]]


def submit(writer: RecordWriter, requests: list[Request]) -> None:
    for decision, attempts in requests:
        writer.submit_decision(decision)
        writer.submit_attempts(attempts)


def records(n: int) -> list[Request]:
    """Decisions whose shared exclusion is stored once in decision_lists, each with a failed
    first attempt and a fallback that answered."""
    out = []
    for i in range(n):
        d = factories.decision(shared_excluded=1, tenant=f"t{i % 3}")
        out.append((d, [
            factories.attempt(d.id, 0, outcome=Outcome.ERROR, error_class="server_error", status_code=503,
                              cost_usd=Decimal(0), latency_ms=40.5),
            factories.attempt(d.id, 1, is_fallback=True)]))
    return out


async def table_contents(engine: AsyncEngine) -> dict[str, list[tuple[object, ...]]]:
    """Every table but Alembic's, rows sorted."""
    async with engine.connect() as conn:
        names = (await conn.execute(sa.text(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name != 'alembic_version'"))).scalars().all()
        contents = {}
        for name in names:
            rows = (await conn.execute(sa.text(f'SELECT * FROM "{name}"'))).all()
            contents[name] = sorted((tuple(row) for row in rows), key=repr)
        return contents


async def test_the_process_stores_exactly_what_the_thread_stores(
    engines: dict[str, AsyncEngine], tmp_path: Path
) -> None:
    batch = records(120)
    health = [factories.health("openai"), factories.health("cohere", state="open")]
    for name, engine in engines.items():
        writer = await started(engine, tmp_path / f"spool-{name}", process=name == "process", batch_size=50)
        submit(writer, batch)
        writer.submit_health_snapshots(health)
        assert await writer.flush(20)
        if name == "process":
            assert child_of(writer).started == 1 and child_of(writer).pid is not None
        await writer.close()
    by_process, by_thread = [await table_contents(engines[n]) for n in ("process", "thread")]
    assert by_process == by_thread
    assert len(by_process["decisions"]) == 120 and len(by_process["attempts"]) == 240
    assert len(by_process["decision_lists"]) == 2  # the chain and the shared exclusion, once each
    assert all(by_process[name] for name in by_process if name.startswith("analytics_"))  # roll-ups


async def test_a_killed_process_loses_no_record_and_stores_none_twice(
    engines: dict[str, AsyncEngine], tmp_path: Path
) -> None:
    engine = engines["process"]
    writer = await started(engine, tmp_path / "spool")
    first, second = records(40), records(40)
    submit(writer, first)
    assert await writer.flush(10)
    child = child_of(writer)
    pid = child.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    submit(writer, [*second, *first[:10]])  # the first ten again: stored already, skipped
    assert await writer.flush(10)
    assert child.started == 2 and child.pid not in (None, pid)
    assert await count_rows(engine, "decisions") == 80
    assert await count_rows(engine, "attempts") == 160
    assert writer.stats.dropped == 0 and writer.stats.spooled == 0
    await writer.close()


async def test_a_write_that_hangs_is_cut_off_and_retried_by_a_new_process(
    engines: dict[str, AsyncEngine], tmp_path: Path
) -> None:
    engine = engines["process"]
    writer = await started(engine, tmp_path / "spool", write_timeout_s=0.5, unreachable_s=30)
    submit(writer, records(5))
    assert await writer.flush(10)
    child = child_of(writer)
    pid = child.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # alive but silent: the batch times out, the child is killed
    later = records(20)
    submit(writer, later)
    assert await writer.flush(15)
    assert child.started == 2 and writer.stats.failures >= 1
    assert await count_rows(engine, "decisions") == 25
    assert await count_rows(engine, "attempts") == 50
    await writer.close()


async def test_rows_the_database_refuses_are_dead_lettered_as_in_the_thread(
    engines: dict[str, AsyncEngine], tmp_path: Path
) -> None:
    engine = engines["process"]
    writer = await started(engine, tmp_path / "spool")
    good = [factories.decision() for _ in range(150)]  # more than a conversion chunk
    bad_id = factories.decision(id="not-a-uuid")  # refused while converting, in this process
    missing = factories.decision(task_type=None)  # NOT NULL: an IntegrityError in the child
    for d in [*good[:70], bad_id, *good[70:140], missing, *good[140:]]:
        writer.submit_decision(d)
    assert await writer.flush(10), "a bad row must not block the others"
    assert await count_rows(engine, "decisions") == 150
    assert writer.stats.rejected == 2
    dead_letter = tmp_path / "spool" / "dead-letter.jsonl"
    dead = [orjson.loads(line) for line in dead_letter.read_bytes().splitlines()]
    assert [e["record"]["r"]["id"] for e in dead] == ["not-a-uuid", missing.id]
    assert "NOT NULL" in dead[1]["error"]
    await writer.close()


async def test_the_process_outlives_signals_and_ends_when_the_writer_closes(
    engines: dict[str, AsyncEngine], tmp_path: Path
) -> None:
    engine = engines["process"]
    writer = await started(engine, tmp_path / "spool")
    submit(writer, records(3))
    assert await writer.flush(10)
    child = child_of(writer)
    proc = child._proc
    assert proc is not None
    for sig in (signal.SIGTERM, signal.SIGINT):  # a Ctrl-C or a stop sent to the process group
        proc.send_signal(sig)
    await asyncio.sleep(0.2)
    submit(writer, records(3))
    assert await writer.flush(10)
    assert child.started == 1 and proc.returncode is None
    await writer.close()
    assert proc.returncode == 0
    assert await count_rows(engine, "decisions") == 6


async def test_a_process_that_cannot_open_the_database_costs_no_record(
    engines: dict[str, AsyncEngine], tmp_path: Path
) -> None:
    """Each child dies at its start (its path is a directory): the writer keeps retrying, moves the
    records to the spool once the database counts as unreachable, and loses none."""
    unopenable = tmp_path / "a-directory"
    unopenable.mkdir()
    engine = engines["process"]
    writer = RecordWriter(create_sessionmaker(engine), Spool(tmp_path / "spool"), fast_options(),
                          SqliteWriterProcess(str(unopenable), engine.dialect))
    await writer.start()
    submit(writer, records(10))
    assert not await writer.flush(1.5)
    assert writer.spooling and writer.pending == 30
    assert child_of(writer).started >= 2 and writer.stats.dropped == 0
    await writer.close(0)
    assert writer.stats.dropped == 0 and writer.stats.spooled == 30
    assert await count_rows(engine, "decisions") == 0


def test_a_childs_error_becomes_the_same_class_here_or_an_operational_error() -> None:
    assert type(error_from("IntegrityError", ("NOT NULL constraint failed",))) is sqlite3.IntegrityError
    assert type(error_from("ValueError", ("bad",))) is ValueError
    for odd in (("UnicodeEncodeError", ("x",)), ("SystemExit", ("0",)), ("NoSuchError", ("?",))):
        error = error_from(*odd)
        assert type(error) is sqlite3.OperationalError and odd[0] in str(error)


async def test_the_store_uses_a_process_for_a_sqlite_file_only(tmp_path: Path) -> None:
    file_engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
    memory_engine = create_engine("sqlite+aiosqlite:///:memory:")
    try:
        found = sqlite_writer_process(file_engine, WriterOptions())
        assert found is not None and found.path == str((tmp_path / "r.db").resolve())
        assert sqlite_writer_process(file_engine, WriterOptions(ROUTER_SQLITE_WRITER_PROCESS=False)) is None
        assert sqlite_writer_process(memory_engine, WriterOptions()) is None
    finally:
        await file_engine.dispose()
        await memory_engine.dispose()
