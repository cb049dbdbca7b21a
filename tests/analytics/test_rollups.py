"""Roll-ups stay exact: long windows (daily + hourly + raw edges) equal sums over the raw records."""

from __future__ import annotations

import datetime as dt
import importlib.util
import itertools
import math
import random
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine
from uuid_utils import uuid7

from app.analytics import RoutingAnalytics
from app.analytics.percentiles import bucket_of
from app.analytics.spec import FAMILIES, HIST_COLUMNS, HIST_EDGES
from app.analytics.window import Window, cover
from app.records import AttemptRecord, DecisionRecord, DecisionStatus, Outcome
from app.store import migrate
from app.store.engine import create_sessionmaker, session_scope
from app.store.migrations import __file__ as migrations_init
from app.store.repositories import TABLES, insert_ignoring_duplicates
from app.store.rows import attempt_row, decision_row
from tests.analytics.conftest import store

NOW = dt.datetime(2026, 3, 10, 13, 37, 12, 345678, tzinfo=dt.UTC)
PROVIDERS = ["deepseek", "mistral", "openai", "gemini"]
TASKS = ["chat", "code", "summarization"]
TENANTS = ["acme", "globex", None]


def _random_records(seed: int, n: int, span_hours: float) -> tuple[list[DecisionRecord], list[AttemptRecord]]:
    rnd = random.Random(seed)
    decisions, attempts = [], []
    for _ in range(n):
        at = NOW - dt.timedelta(seconds=rnd.uniform(1, span_hours * 3600))
        task, tenant = rnd.choice(TASKS), rnd.choice(TENANTS)
        d = DecisionRecord(
            id=str(uuid7()),
            task_type=task,
            budget="low",
            region="global",
            requires_sla=False,
            requires_compliance=False,
            input_tokens=1000,
            output_tokens=200,
            status=DecisionStatus.SUCCEEDED,
            tenant=tenant,
            created_at=at,
            primary_provider="deepseek",
            primary_model="m",
        )
        decisions.append(d)
        for order in range(rnd.choice([1, 1, 2, 3])):
            outcome = rnd.choice([Outcome.SUCCESS, Outcome.ERROR, Outcome.TIMEOUT, Outcome.SKIPPED])
            cost = Decimal(rnd.randrange(0, 10**8)).scaleb(-10)
            attempts.append(
                AttemptRecord(
                    id=str(uuid7()),
                    decision_id=d.id,
                    attempt_order=order,
                    provider=rnd.choice(PROVIDERS),
                    model="m",
                    outcome=outcome,
                    task_type=task,
                    tenant=tenant,
                    is_fallback=order > 0,
                    latency_ms=0.0 if outcome is Outcome.SKIPPED else round(rnd.uniform(0.5, 9000), 3),
                    cost_usd=cost,
                    baseline_cost_usd=cost * 3,
                    input_tokens=rnd.randrange(5000),
                    output_tokens=rnd.randrange(900),
                    created_at=at + dt.timedelta(microseconds=order),
                    quality_score=rnd.choice([None, 6.5, 8.25]),
                )
            )
    return decisions, attempts


def percentile_cont(values: list[float], q: float) -> float:
    values = sorted(values)
    rank = q * (len(values) - 1)
    low = int(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


def test_the_migration_holds_the_same_rollup_definitions_as_the_code() -> None:
    path = Path(migrations_init).parent / "versions" / "0003_analytics_rollups.py"
    spec = importlib.util.spec_from_file_location("rollup_migration", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    frozen = {
        name: (source, [tuple(d) for d in dims], [tuple(m) for m in measures], where)
        for name, source, dims, measures, where in module.FAMILIES
    }
    current = {
        f.name: (f.source, list(f.dims), [(m.name, m.expr, m.kind, m.combine) for m in f.measures], f.where)
        for f in FAMILIES
    }
    assert frozen == current
    assert tuple(module.HIST_EDGES) == HIST_EDGES


@given(
    start=st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2025, 12, 1)),
    hours=st.floats(min_value=1, max_value=2160),
)
def test_cover_is_a_partition_of_the_window(start: dt.datetime, hours: float) -> None:
    window = Window(start.replace(tzinfo=dt.UTC), start.replace(tzinfo=dt.UTC) + dt.timedelta(hours=hours))
    pieces = cover(window)
    assert pieces[0].start == window.start and pieces[-1].end == window.end
    assert all(a.end == b.start and a.start < a.end for a, b in itertools.pairwise(pieces))
    for p in pieces:
        if p.source == "hourly":
            assert p.start.minute == p.start.second == p.start.microsecond == 0
        if p.source == "daily":
            assert p.start.hour == 0 and p.end.hour == 0
        if p.source == "raw" and not window.raw_only:
            assert p.end - p.start <= dt.timedelta(hours=1)


@pytest.mark.slow
async def test_long_windows_equal_sums_over_raw_records(
    engine: AsyncEngine, analytics: RoutingAnalytics
) -> None:
    decisions, attempts = _random_records(seed=7, n=400, span_hours=24 * 12)
    await store(engine, decisions, attempts)
    await store(engine, decisions, attempts)  # a replayed batch: ON CONFLICT skips it, triggers do not fire
    for hours in (3, 30, 24 * 10):
        window = Window.last(hours, now=NOW)
        inside = [a for a in attempts if window.start <= a.created_at < window.end]
        costs = await analytics.get_cost_analysis(time_window_hours=hours, now=NOW)
        assert costs["requests"] == sum(1 for a in inside if a.attempt_order == 0)
        assert Decimal(repr(costs["total_cost_usd"])) == sum((a.cost_usd for a in inside), Decimal(0))
        assert Decimal(repr(costs["baseline_cost_usd"])) == sum(
            (a.baseline_cost_usd for a in inside), Decimal(0)
        )
        by_tenant: dict[str, Decimal] = defaultdict(Decimal)
        for a in inside:
            by_tenant[a.tenant or "(none)"] += a.cost_usd
        assert {k: Decimal(repr(v)) for k, v in costs["by_tenant"].items()} == by_tenant
        by_day: dict[str, int] = defaultdict(int)
        for a in inside:
            by_day[a.created_at.date().isoformat()] += a.attempt_order == 0
        assert {p["day"]: p["requests"] for p in costs["by_day"] if p["requests"]} == {
            k: v for k, v in by_day.items() if v
        }
        providers = {
            p["provider"]: p for p in await analytics.get_providers(time_window_hours=hours, now=NOW)
        }
        for name in PROVIDERS:
            called = [a for a in inside if a.provider == name and a.outcome is not Outcome.SKIPPED]
            if not called:
                assert providers.get(name, {"requests": 0})["requests"] == 0
                continue
            p = providers[name]
            assert p["requests"] == len(called)
            assert p["successes"] == sum(a.outcome is Outcome.SUCCESS for a in called)
            assert p["avg_response_time_ms"] == pytest.approx(
                sum(a.latency_ms for a in called) / len(called), abs=1e-3
            )
            exact = percentile_cont([a.latency_ms for a in called], 0.95)
            if hours <= 6:
                assert p["p95_response_time_ms"] == pytest.approx(exact, abs=1e-3)
            else:
                assert abs(p["p95_response_time_ms"] - exact) / exact < 0.19


async def test_histogram_buckets_match_the_edges(engine: AsyncEngine) -> None:
    # every edge, and the float just under it: each falls on its own side on both databases
    latencies = [0.0, 0.999, 1.0, HIST_EDGES[10] - 1e-9, 65535.9, 65536.0, 1e7,
                 *HIST_EDGES, *(math.nextafter(edge, 0.0) for edge in HIST_EDGES)]
    decision = DecisionRecord(
        id=str(uuid7()),
        task_type="chat",
        budget="low",
        region="global",
        requires_sla=False,
        requires_compliance=False,
        input_tokens=1,
        output_tokens=1,
        status=DecisionStatus.SUCCEEDED,
        created_at=NOW,
    )
    attempts = [
        AttemptRecord(
            id=str(uuid7()),
            decision_id=decision.id,
            attempt_order=i,
            provider="p",
            model="m",
            outcome=Outcome.ERROR,
            task_type="chat",
            latency_ms=v,
            created_at=NOW,
        )
        for i, v in enumerate(latencies)
    ]
    await store(engine, [decision], attempts)
    async with engine.connect() as conn:
        row = (
            await conn.execute(sa.text(f"SELECT {', '.join(HIST_COLUMNS)} FROM analytics_attempts_hourly"))
        ).one()
    expected = [0] * len(HIST_COLUMNS)
    for v in latencies:
        expected[bucket_of(v)] += 1
    assert list(row) == expected


async def test_upgrade_rolls_up_records_stored_before_it(
    db_url: str, engine: AsyncEngine, analytics: RoutingAnalytics
) -> None:
    decisions, attempts = _random_records(seed=3, n=60, span_hours=72)
    await migrate.downgrade(engine, "0002")
    # stored the way a version before the roll-ups did: plain inserts, nothing rolled up (and
    # the lists inline: decision lists came with revision 0005)
    lists = {"chain_set", "chain_entries", "excluded_set", "excluded_shared"}
    before_sets = [{**{k: v for k, v in decision_row(d).items() if k not in lists},
                    "chain": d.chain, "excluded": d.excluded} for d in decisions]
    async with session_scope(create_sessionmaker(engine)) as session:
        for kind, rows in (("decision", before_sets),
                           ("attempt", [attempt_row(a) for a in attempts])):
            await session.execute(insert_ignoring_duplicates(engine.dialect.name, TABLES[kind]), rows)
    await migrate.upgrade(engine)
    costs = await analytics.get_cost_analysis(time_window_hours=80, now=NOW)
    assert Decimal(repr(costs["total_cost_usd"])) == sum((a.cost_usd for a in attempts), Decimal(0))
    assert costs["requests"] == len(decisions)
