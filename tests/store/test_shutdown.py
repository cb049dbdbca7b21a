"""SIGTERM under load: uvicorn drains, the writer flushes (or spools), the process exits 0, and
every request answered before the end has its decision stored after the next start."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from app.config.settings import Settings
from app.store.engine import create_engine
from tests.conftest import truncate_all
from tests.store.server import start_service
from tests.store.service import ROUTE, running

BODIES = [{"task_type": "chat", "budget": "low", "context_size": 2000},
          {"task_type": "chat", "budget": "free", "context_size": 5_000_000}]  # a 422, recorded too
WORKERS = 16


async def load(port: int, answered: list[str], stop: asyncio.Event) -> None:
    """Post /route in a loop until the server stops accepting; keep the id of every answer."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        i = 0
        while not stop.is_set():
            try:
                resp = await client.post(ROUTE, json=BODIES[i % 2])
            except httpx.TransportError:
                return  # the listener is closed: shutdown has begun
            body = resp.json()
            answered.append(body.get("decision_id") or body["error"]["details"]["decision_id"])
            i += 1


async def load_then_signal(proc: subprocess.Popen[bytes], port: int, send: Callable[[], None]
                           ) -> tuple[list[str], int]:
    """Load the service, signal it once 200 requests were answered, wait for it to exit; the
    decisions answered, and how many had been when the signal went."""
    answered: list[str] = []
    stop = asyncio.Event()
    try:
        workers = [asyncio.create_task(load(port, answered, stop)) for _ in range(WORKERS)]
        loaded_by = time.monotonic() + 60
        while len(answered) < 200 and time.monotonic() < loaded_by:
            await asyncio.sleep(0.05)
        at_signal = len(answered)
        send()
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*workers)
    finally:
        if proc.poll() is None:
            proc.kill()
    return answered, at_signal


async def stored_ids(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return [str(i) for i in (await conn.execute(sa.text("SELECT id FROM decisions"))).scalars()]
    finally:
        await engine.dispose()


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("flush_s", ["10", "0"], ids=["flushed", "spooled-then-replayed"])
async def test_sigterm_under_load_keeps_every_answered_decision(
    flush_s: str, pg_url: str, tmp_path: Path, provider_keys: dict[str, str],
) -> None:
    await truncate_all(pg_url)
    # With no flush time, a long batch wait makes sure records are still queued at the signal.
    env = {"DATABASE_URL": pg_url, "ROUTER_DATA_DIR": str(tmp_path / "data"),
           "ROUTER_SHUTDOWN_FLUSH_S": flush_s,
           "ROUTER_RECORD_BATCH_WAIT_S": "0.5" if flush_s != "0" else "5"}
    proc, port = start_service(env, tmp_path / "uvicorn.log")
    answered, at_signal = await load_then_signal(proc, port, lambda: proc.send_signal(signal.SIGTERM))
    log = (tmp_path / "uvicorn.log").read_text()
    assert proc.wait(5) == 0, log
    assert at_signal >= 200, "the service was under load when the signal came"

    spooled = list((tmp_path / "data" / "spool").glob("spool-*.jsonl"))
    if flush_s == "0":
        assert spooled, "with no flush time the queue must have gone to the spool"
        assert not set(answered) <= set(await stored_ids(pg_url))
        async with running(Settings(database_url=pg_url, ROUTER_DATA_DIR=tmp_path / "data")):
            pass  # the next start replays the spool
        assert list((tmp_path / "data" / "spool").glob("spool-*.jsonl")) == []
    else:
        assert spooled == [], log

    stored = await stored_ids(pg_url)
    assert len(stored) == len(set(stored)), "no decision is stored twice"
    missing = set(answered) - set(stored)
    assert not missing, f"{len(missing)} answered decisions were lost"
    assert "LOST" not in log


def writer_processes(database: Path) -> list[int]:
    """Living SQLite writer processes of this database (their command line names it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if b"app.store.sqlite_worker" in cmdline and str(database).encode() in cmdline:
            pids.append(int(entry.name))
    return pids


@pytest.mark.slow
async def test_sigterm_to_the_process_group_keeps_every_decision_on_sqlite(
    tmp_path: Path, provider_keys: dict[str, str],
) -> None:
    """On a SQLite file the batches run in the writer process: a SIGTERM to the whole process group
    (a Ctrl-C, a stop sent to the group) reaches it too, and it keeps storing until the service
    has flushed through it, then exits with the service."""
    database = tmp_path / "data" / "router.db"
    url = f"sqlite+aiosqlite:///{database}"
    # Small, quick batches: the writer process is running (started by the first) when the signal comes.
    env = {"DATABASE_URL": url, "ROUTER_DATA_DIR": str(tmp_path / "data"), "ROUTER_SHUTDOWN_FLUSH_S": "10",
           "ROUTER_RECORD_BATCH_SIZE": "20", "ROUTER_RECORD_BATCH_WAIT_S": "0.05"}
    proc, port = start_service(env, tmp_path / "uvicorn.log", new_session=True)
    children: list[int] = []

    def stop_the_group() -> None:
        children.extend(writer_processes(database.resolve()))
        os.killpg(proc.pid, signal.SIGTERM)

    answered, at_signal = await load_then_signal(proc, port, stop_the_group)
    assert len(children) == 1, "one writer process was running when the signal came"
    log = (tmp_path / "uvicorn.log").read_text()
    assert proc.wait(5) == 0, log
    assert at_signal >= 200, "the service was under load when the signal came"
    assert list((tmp_path / "data" / "spool").glob("spool-*.jsonl")) == [], log
    stored = [i.replace("-", "") for i in await stored_ids(url)]  # SQLite keeps UUIDs as hex
    assert len(stored) == len(set(stored)), "no decision is stored twice"
    assert not {i.replace("-", "") for i in answered} - set(stored), "every answered decision is stored"
    deadline = time.monotonic() + 5
    while writer_processes(database.resolve()) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert writer_processes(database.resolve()) == [], "the writer process ends with the service"
    assert "new SQLite writer process" not in log, "the signal did not end the writer process"
    assert "LOST" not in log
