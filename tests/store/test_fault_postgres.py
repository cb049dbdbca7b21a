"""PostgreSQL goes away mid-run (through a proxy the test controls) and comes back: nothing is lost.

The service runs in-process against the real PostgreSQL through TcpProxy. Requests keep coming
while the proxy cuts or stalls every connection for longer than the writer's 2 s limit, then
restores them. Every request must be answered, and afterwards exactly one stored decision per
answer, with the spool empty and `records_dropped_total` unchanged.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app.config.settings import Settings
from app.metrics import RECORDS_DROPPED
from app.store.engine import create_engine
from tests.conftest import truncate_all
from tests.store.service import ROUTE, running, store_of
from tests.store.tcp_proxy import TcpProxy

BODY = {"task_type": "chat", "budget": "low", "context_size": 2000}
WORKERS = 4


async def send(client: httpx.AsyncClient, ids: list[str], *, count: int | None = None,
               until: float | None = None) -> None:
    sent = 0
    while (count is None or sent < count) and (until is None or time.monotonic() < until):
        resp = await client.post(ROUTE, json=BODY)
        assert resp.status_code == 200, resp.text
        ids.append(resp.json()["decision_id"])
        sent += 1
        await asyncio.sleep(0.01)


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("fault", ["cut", "stall"])
async def test_no_decision_is_lost_while_postgres_is_unreachable(
    fault: str, pg_url: str, tmp_path: Path, provider_keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await truncate_all(pg_url)
    dropped = RECORDS_DROPPED._value.get()
    monkeypatch.setenv("ROUTER_RECORD_WRITE_TIMEOUT_S", "3")  # a stalled insert gives up sooner
    target = make_url(pg_url)
    ids: list[str] = []
    async with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        proxied = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        async with running(Settings(database_url=proxied, ROUTER_DATA_DIR=tmp_path)) as (app, client):
            writer = store_of(app).writer
            await asyncio.gather(*(send(client, ids, count=25) for _ in range(WORKERS)))
            before = len(ids)

            getattr(proxy, fault)()
            outage_ends = time.monotonic() + 3.5
            await asyncio.gather(*(send(client, ids, until=outage_ends) for _ in range(WORKERS)))
            assert writer.spooling, "an outage over 2 s must move records to the disk spool"
            assert writer.stats.spooled > 0
            during = len(ids) - before

            proxy.restore()
            await asyncio.gather(*(send(client, ids, count=25) for _ in range(WORKERS)))
            assert await writer.flush(60), "everything is written once the database is back"
            assert not writer.spooling
            assert list((tmp_path / "spool").glob("spool-*.jsonl")) == []

    assert during > 50, "requests kept being answered during the outage"
    engine = create_engine(pg_url)
    try:
        async with engine.connect() as conn:
            total, distinct = (await conn.execute(
                sa.text("SELECT count(*), count(DISTINCT id) FROM decisions")
            )).one()
            stored = {str(i) for i in (await conn.execute(sa.text("SELECT id FROM decisions"))).scalars()}
    finally:
        await engine.dispose()
    assert len(ids) == len(set(ids))
    assert total == distinct == len(ids)
    assert stored == set(ids)
    assert RECORDS_DROPPED._value.get() == dropped
