"""SIGTERM under load: uvicorn drains, the writer flushes (or spools), the process exits 0, and
every request answered before the end has its decision stored after the next start."""

from __future__ import annotations

import asyncio
import signal
import time
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
    answered: list[str] = []
    stop = asyncio.Event()
    try:
        workers = [asyncio.create_task(load(port, answered, stop)) for _ in range(WORKERS)]
        loaded_by = time.monotonic() + 60
        while len(answered) < 200 and time.monotonic() < loaded_by:
            await asyncio.sleep(0.05)
        at_signal = len(answered)
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*workers)
    finally:
        if proc.poll() is None:
            proc.kill()
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
