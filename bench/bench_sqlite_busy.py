"""The SQLite writer while the event loop is busy: why a batch is one statement a table, and why
batches grow with the backlog (app/store/bulk_sqlite.py, app/store/options.py).

1. sqlite3 alone: 100 rows of 23 columns inserted by executemany (a step per row) or by one
   multi-row statement, each batch its own transaction, with the main thread idle or spinning in
   Python. sqlite3 lets go of the GIL around every step, and taking it back from a busy thread can
   wait the interpreter's switch interval (5 ms).
2. The RecordWriter on a SQLite file while a task keeps the event loop busy (Python between system
   calls, as request handling is): records submitted at a fixed rate; prints the rows
   committed, batches and their mean size, the deepest queue and whether it spooled, for
   ROUTER_RECORD_BATCH_MAX 100 (the batch size alone) and 500.
3. What a batch costs with nothing else running: store_batch over 350-row batches of decisions
   and attempts, the CPU per row on the event loop's thread and in aiosqlite's.

Run: .venv/bin/python bench/bench_sqlite_busy.py [--seconds 5] [--rate 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.store import migrate
from app.store.batch import store_batch
from app.store.decision_lists import StoredLists
from app.store.engine import create_engine, create_sessionmaker
from app.store.options import WriterOptions
from app.store.rows import Kind, Row, attempt_row, decision_row
from app.store.spool import Spool
from app.store.writer import RecordWriter
from bench.bench_store import sample_records

COLUMNS = 23


def sqlite_batches_per_s(kind: str, busy: bool, seconds: float, path: Path) -> float:
    """Batches of 100 rows committed per second by `kind` ("executemany" or "multi-row")."""
    con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    names = ", ".join(f"c{i}" for i in range(COLUMNS))
    con.execute(f"CREATE TABLE IF NOT EXISTS t_{kind.replace('-', '_')} (id INTEGER PRIMARY KEY, {names})")
    table = f"t_{kind.replace('-', '_')}"
    row = f"({', '.join('?' * COLUMNS)})"
    one = f"INSERT INTO {table} ({names}) VALUES {row}"
    many = f"INSERT INTO {table} ({names}) VALUES {', '.join([row] * 100)}"
    rows = [tuple(f"value {r}.{c}" for c in range(COLUMNS)) for r in range(100)]
    flat = [v for r in rows for v in r]
    stop = threading.Event()

    def spin() -> None:
        n = 0
        while not stop.is_set():
            n += 1

    spinner = threading.Thread(target=spin) if busy else None
    if spinner is not None:
        spinner.start()
    done, started = 0, time.perf_counter()
    try:
        while time.perf_counter() - started < seconds:
            con.execute("BEGIN")
            if kind == "executemany":
                con.executemany(one, rows)
            else:
                con.execute(many, flat)
            con.execute("COMMIT")
            done += 1
    finally:
        stop.set()
        if spinner is not None:
            spinner.join()
        con.close()
    return done / (time.perf_counter() - started)


async def busy_loop(until: float) -> None:
    """Request handling's shape on the event loop: Python for ~100 us between system calls (each
    lets go of the GIL, as a socket read or write does), yielding to other tasks every ~0.5 ms."""
    while time.perf_counter() < until:
        for _ in range(5):
            end = time.perf_counter() + 0.0001
            while time.perf_counter() < end:
                pass
            time.sleep(0)  # a system call without the GIL
        await asyncio.sleep(0)


async def writer_under_load(batch_max: int, seconds: float, rate: int, tmp: Path) -> dict[str, Any]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp / f'w{batch_max}.db'}")
    await migrate.upgrade_locked(engine, tmp / f"w{batch_max}.lock")
    decisions, attempts = sample_records(int(rate * seconds * 1.1))
    by_decision: dict[str, list[Any]] = {}
    for a in attempts:
        by_decision.setdefault(a.decision_id, []).append(a)
    options = WriterOptions.model_validate({"batch_max": batch_max})
    writer = RecordWriter(create_sessionmaker(engine), Spool(tmp / f"spool{batch_max}"), options)
    sizes: list[int] = []
    insert = writer._insert

    async def counted(rows: Sequence[Any]) -> None:
        sizes.append(len(rows))
        await insert(rows)

    writer._insert = counted  # type: ignore[method-assign]
    await writer.start()
    started = time.perf_counter()
    until = started + seconds
    load = asyncio.create_task(busy_loop(until))
    submitted, deepest = 0, 0
    for d in decisions:
        now = time.perf_counter()
        if now >= until:
            break
        due = started + submitted / rate
        if due > now:
            await asyncio.sleep(due - now)
        writer.submit_decision(d)
        extra = by_decision.get(d.id, [])
        writer.submit_attempts(extra)
        submitted += 1 + len(extra)
        deepest = max(deepest, writer.pending)
    await load
    committed = writer.stats.written
    await writer.flush(120)
    spooled = writer.stats.spooled
    await writer.close()
    await engine.dispose()
    return {"submitted": submitted, "committed_during_load": committed, "batches": len(sizes),
            "mean_batch": sum(sizes) / max(len(sizes), 1), "deepest_queue": deepest, "spooled": spooled}


async def batch_cost(tmp: Path, batches: int = 40, size: int = 350) -> tuple[float, float]:
    """(us per row on the event loop's thread, us per row in the rest of the process)."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp / 'cost.db'}")
    await migrate.upgrade_locked(engine, tmp / "cost.lock")
    sessions, lists = create_sessionmaker(engine), StoredLists()
    decisions, attempts = sample_records(batches * size)
    by_decision: dict[str, list[Any]] = {}
    for a in attempts:
        by_decision.setdefault(a.decision_id, []).append(a)
    rows: list[tuple[Kind, Row]] = []
    for d in decisions:
        rows.append(("decision", decision_row(d)))
        rows += [("attempt", attempt_row(a)) for a in by_decision.get(d.id, [])]
    await store_batch(sessions, rows[:size], lists)  # connection opened, statements prepared
    loop_cpu, process_cpu = time.thread_time(), time.process_time()
    for start in range(size, len(rows), size):
        await store_batch(sessions, rows[start:start + size], lists)
    n = len(rows) - size
    loop_us = 1e6 * (time.thread_time() - loop_cpu) / n
    rest_us = 1e6 * (time.process_time() - process_cpu) / n - loop_us
    await engine.dispose()
    return loop_us, rest_us


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=int, default=10000, help="rows submitted per second")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-busy-") as name:
        tmp = Path(name)
        print(f"1. sqlite3 alone, 100 rows x {COLUMNS} columns a transaction, batches per second:")
        for kind in ("executemany", "multi-row"):
            idle = sqlite_batches_per_s(kind, False, args.seconds / 2, tmp / "a.db")
            busy = sqlite_batches_per_s(kind, True, args.seconds / 2, tmp / "a.db")
            print(f"   {kind:<12} main thread idle {idle:7.0f}   spinning in Python {busy:6.1f}")
        print(f"2. RecordWriter on SQLite, event loop busy, {args.rate} rows/s for {args.seconds:g} s:")
        for batch_max in (100, 500):
            r = await writer_under_load(batch_max, args.seconds, args.rate, tmp)
            print(f"   batch_max {batch_max}: {r['committed_during_load']} of {r['submitted']} rows "
                  f"committed during the load, {r['batches']} batches (mean {r['mean_batch']:.0f} rows), "
                  f"deepest queue {r['deepest_queue']}, spooled {r['spooled']}")
        loop_us, rest_us = await batch_cost(tmp)
        print(f"3. store_batch alone, 350-row batches: {loop_us:.1f} us a row on the event loop's thread, "
              f"{rest_us:.1f} in aiosqlite's")


if __name__ == "__main__":
    asyncio.run(main())
