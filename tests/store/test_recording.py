"""/route records every decision, the 422s included, with the id the response returns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.config.settings import Settings
from app.store.models import Decision
from tests.conftest import CANARY_PREFIX
from tests.store.service import ROUTE, running, store_of

REQUESTS: list[dict[str, Any]] = [
    {"task_type": "chat", "budget": "low", "context_size": 2000},
    {"task_type": "reasoning", "budget": "high", "context_size": 8000, "tenant": "acme"},
    {"task_type": "chat", "budget": "medium", "region": "eu", "requires_compliance": True,
     "user": "u-42"},
    {"task_type": "summarization", "budget": "medium", "context_size": 500_000},
    {"task_type": "rag", "budget": "medium", "prompt": "What does our refund policy say?"},
]
IMPOSSIBLE = {"task_type": "chat", "budget": "free", "context_size": 5_000_000}


def settings_for(db_url: str, tmp_path: Path, **extra: Any) -> Settings:
    return Settings(database_url=db_url, ROUTER_DATA_DIR=tmp_path / "data", **extra)


async def decisions_by_id(settings: Settings) -> dict[str, Decision]:
    """The stored decisions, each with its whole chain and exclusions (as the readers see them)."""
    from app.store.decision_lists import lists_of
    from app.store.engine import create_engine, create_sessionmaker

    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            stored = {d.id: d for d in (await session.scalars(sa.select(Decision))).all()}
            whole = {i: await lists_of(session, d) for i, d in stored.items()}
        for decision_id, decision in stored.items():  # detached now: nothing is written back
            decision.chain, decision.excluded = whole[decision_id]
        return stored
    finally:
        await engine.dispose()


async def test_every_answered_decision_is_stored(
    db_url: str, tmp_path: Path, provider_keys: dict[str, str]
) -> None:
    settings = settings_for(db_url, tmp_path)
    answers: list[dict[str, Any]] = []
    async with running(settings) as (app, client):
        for _ in range(4):
            for body in REQUESTS:
                resp = await client.post(ROUTE, json=body)
                assert resp.status_code == 200, resp.text
                answers.append(resp.json())
        assert await store_of(app).writer.flush(10)
    stored = await decisions_by_id(settings)
    assert set(stored) == {a["decision_id"] for a in answers}
    for answer, body in zip(answers, REQUESTS * 4, strict=True):
        row = stored[answer["decision_id"]]
        assert row.status == "routed"
        assert (row.task_type, row.budget) == (body["task_type"], body["budget"])
        assert row.tenant == body.get("tenant") and row.end_user == body.get("user")
        assert row.primary_provider == answer["primary_provider"]
        assert row.primary_model == answer["primary_model"]
        assert [c["provider"] for c in row.chain] == [c["provider"] for c in answer["chain"]]
        # each entry's cost, added back from its prices and the tokens, is the one answered
        assert [round(c["estimated_cost_usd"], 6) for c in row.chain] == [
            c["estimated_cost_usd"] for c in answer["chain"]]
        assert row.strategy == answer["routing_strategy"]
        cost = answer["estimated_cost"]
        assert row.estimated_cost_usd is not None and row.baseline_cost_usd is not None
        assert round(float(row.estimated_cost_usd), 6) == cost["estimated_cost_usd"]
        assert round(float(row.baseline_cost_usd), 6) == cost["baseline_cost_usd"]
        assert row.input_tokens == cost["input_tokens"] and row.output_tokens == cost["output_tokens"]
        assert row.excluded == answer["excluded"]
        assert row.excluded_set is not None and row.chain_set is not None  # stored once each


async def test_a_rejected_request_is_stored_with_its_reasons(
    db_url: str, tmp_path: Path, provider_keys: dict[str, str]
) -> None:
    settings = settings_for(db_url, tmp_path)
    async with running(settings) as (app, client):
        resp = await client.post(ROUTE, json={**IMPOSSIBLE, "tenant": "acme"})
        assert await store_of(app).writer.flush(10)
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == "no_eligible_provider"
    decision_id = error["details"]["decision_id"]
    row = (await decisions_by_id(settings))[decision_id]
    assert row.status == "rejected"
    assert row.primary_provider is None and row.chain == []
    assert row.tenant == "acme" and row.input_tokens == 5_000_000
    assert row.excluded == error["details"]["excluded"]
    assert {e["reason"] for e in row.excluded} >= {"budget", "context"}


async def test_recording_can_be_turned_off(
    db_url: str, tmp_path: Path, provider_keys: dict[str, str]
) -> None:
    settings = settings_for(db_url, tmp_path, ROUTER_RECORD_DECISIONS=False)
    async with running(settings) as (app, client):
        for body in REQUESTS:
            assert (await client.post(ROUTE, json=body)).status_code == 200
        assert await store_of(app).writer.flush(10)
    assert await decisions_by_id(settings) == {}


async def test_provider_keys_never_reach_the_database_or_the_spool(
    db_url: str, tmp_path: Path, provider_keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A tiny queue spools at once; no flush time at shutdown leaves everything on disk.
    monkeypatch.setenv("ROUTER_RECORD_QUEUE_SIZE", "10")
    monkeypatch.setenv("ROUTER_RECORD_BATCH_WAIT_S", "5")
    monkeypatch.setenv("ROUTER_SHUTDOWN_FLUSH_S", "0")
    settings = settings_for(db_url, tmp_path)
    ids = []
    async with running(settings) as (_, client):
        for body in [*REQUESTS, IMPOSSIBLE] * 5:
            resp = await client.post(ROUTE, json=body)
            ids.append(resp.json().get("decision_id") or resp.json()["error"]["details"]["decision_id"])
    spooled = b"".join(p.read_bytes() for p in (tmp_path / "data" / "spool").glob("spool-*.jsonl"))
    assert spooled.count(b'{"k":"decision"') == len(ids)
    assert CANARY_PREFIX.encode() not in spooled
    monkeypatch.setenv("ROUTER_SHUTDOWN_FLUSH_S", "10")
    async with running(settings):  # the next start replays the spool
        pass
    stored = await decisions_by_id(settings)
    assert set(stored) == set(ids)
    dump = repr([(d.chain, d.excluded, d.tenant, d.end_user) for d in stored.values()])
    assert CANARY_PREFIX not in dump
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            assert CANARY_PREFIX.encode() not in path.read_bytes(), path
