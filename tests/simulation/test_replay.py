"""Replays against the provider simulator: fallback lifts availability above a failing provider's own,
every attempt is counted and stored, and the store's decisions replay as a workload."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from app.cli import main
from app.config.catalog import Catalog
from app.config.enums import BudgetTier, Region, TaskType
from app.simulation.history import load_history
from app.simulation.replay import replay
from app.simulation.report import build_report
from app.simulation.workload import WorkloadItem, generate, write_workload

# chat/low/global routes to deepseek first with the shipped catalog (the note's first example).
CHAT_LOW = WorkloadItem(task=TaskType.CHAT, budget=BudgetTier.LOW, region=Region.GLOBAL,
                        context_tokens=2000, output_tokens=200, tenant="t1")


def test_fallback_beats_a_failing_primary_and_counts_every_attempt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workload, profile = tmp_path / "w.jsonl", tmp_path / "faults.json"
    write_workload([CHAT_LOW] * 40, workload)
    profile.write_text(json.dumps({"providers": {"deepseek": {"error_rate": 1.0, "status": 503}}}))
    code = main(["simulate", "--workload", str(workload), "--fault-profile", str(profile),
                 "--concurrency", "4", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    deepseek = report["providers"]["deepseek"]
    assert deepseek["attempts"] >= 1
    assert deepseek["successes"] == 0
    assert deepseek["fallbacks_from"] == deepseek["attempts"]
    assert report["availability_percent"] > deepseek["availability_percent"]
    assert report["succeeded"] == 40
    # Every request counted its attempts: those that met deepseek made two, the rest (circuit open) one.
    assert report["attempts_histogram"] == {"1": 40 - deepseek["attempts"], "2": deepseek["attempts"]}
    assert report["attempts_per_request"] == pytest.approx((40 + deepseek["attempts"]) / 40)
    assert "deepseek" not in report["answered_by"]
    assert report["simulator"]["deepseek"]["errors"] >= deepseek["attempts"]
    assert report["latency_ms"]["p50"] is not None
    assert report["latency_ms"]["p50"] <= report["latency_ms"]["p99"]


async def test_the_store_holds_every_attempt_and_replays_as_the_same_workload(
    tmp_path: Path, catalog: Catalog
) -> None:
    items = generate(60, seed=8)
    db = tmp_path / "replay.db"
    url = f"sqlite+aiosqlite:///{db}"
    faults = {"providers": {"azure_openai": {"error_rate": 0.5}}}
    results, facts = await replay(items, catalog, profile=faults, concurrency=8, progress=False,
                                  database_url=url)
    report = build_report(results, mode="replay", extra=facts)
    assert report["requests"] == 60
    with sqlite3.connect(db) as conn:
        stored_decisions = conn.execute("SELECT count(*) FROM decisions").fetchone()[0]
        stored_attempts = conn.execute(
            "SELECT count(*) FROM attempts WHERE outcome != 'skipped'").fetchone()[0]
    assert stored_decisions == 60
    assert stored_attempts == sum(len([a for a in r.attempts if a.outcome != "skipped"]) for r in results)
    history = await load_history(url)
    key = lambda i: (i.task, i.budget, i.region, i.context_tokens, i.output_tokens, i.tenant)  # noqa: E731
    assert sorted(map(key, history)) == sorted(map(key, items))


def test_from_store_dry_run_reads_database_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], catalog: Catalog
) -> None:
    db = tmp_path / "replay.db"
    url = f"sqlite+aiosqlite:///{db}"
    asyncio.run(replay([CHAT_LOW] * 5, catalog, progress=False, database_url=url))
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["simulate", "--from-store", "--dry-run", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["requests"] == 5
    assert report["answered_by"] == {"deepseek": 5}
