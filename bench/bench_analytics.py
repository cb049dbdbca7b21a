"""Analytics at scale: load N decisions with their attempts into PostgreSQL, time every endpoint.

Run: .venv/bin/python bench/bench_analytics.py [--decisions 1000000] [--days 35] [--runs 5]
It creates its own database (random name) on 127.0.0.1:5432, migrates it (roll-up triggers
included), bulk-loads records with COPY (asyncpg) behind a progress bar, starts the service on
it under uvicorn, and prints the median and worst latency of each analytics endpoint over 24
hours and 30 days. Goal (issue 7): every endpoint under 200 ms at one million decisions. Then it
streams the raw 30-day export and prints its size, speed and the service's peak RSS before and
after, to show the export runs in constant memory. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config.loader import load_catalog
from app.store import migrate
from app.store.engine import create_engine
from bench.loadgen import free_port, start_uvicorn, stop

ADMIN_DSN = os.environ.get("ROUTER_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
API = "/api/brain/ai-assistant/analytics"
CHUNK = 50_000
TENANTS = [f"tenant-{i:02d}" for i in range(10)]
DECISION_COLUMNS = (
    "id",
    "created_at",
    "tenant",
    "end_user",
    "task_type",
    "budget",
    "region",
    "requires_sla",
    "requires_compliance",
    "input_tokens",
    "output_tokens",
    "status",
    "strategy",
    "primary_provider",
    "primary_model",
    "chain",
    "excluded",
    "estimated_cost_usd",
    "baseline_cost_usd",
    "idempotency_key",
    "variant",
)
ATTEMPT_COLUMNS = (
    "id",
    "decision_id",
    "attempt_order",
    "created_at",
    "provider",
    "model",
    "outcome",
    "task_type",
    "tenant",
    "region",
    "latency_ms",
    "error_class",
    "status_code",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cost_usd",
    "baseline_cost_usd",
    "cost_estimated",
    "quality_score",
    "is_fallback",
)
Q = Decimal("0.0000000001")


def _models_per_task() -> dict[str, list[tuple[str, str, Decimal, Decimal]]]:
    catalog = load_catalog()
    out: dict[str, list[tuple[str, str, Decimal, Decimal]]] = {}
    for pname, spec in catalog.providers.items():
        for m in spec.models:
            for task in m.capabilities:
                out.setdefault(task.value, []).append(
                    (pname, m.name, Decimal(m.input_price), Decimal(m.output_price))
                )
    return out


def generate(n: int, days: float, now: dt.datetime, seed: int = 11) -> Any:
    """Chunks of (decision rows, attempt rows): realistic tasks, chains of 1-3, 4 % failures."""
    rnd = random.Random(seed)
    per_task = _models_per_task()
    tasks = sorted(per_task)
    weights = [8 if t == "chat" else 3 if t in ("rag", "code", "summarization") else 1 for t in tasks]
    chains = {
        t: [per_task[t][i] for i in rnd.sample(range(len(per_task[t])), min(3, len(per_task[t])))]
        for t in tasks
    }
    catalog = load_catalog()
    b_in, b_out = Decimal(catalog.baseline.input_price), Decimal(catalog.baseline.output_price)
    span = days * 86400
    decisions: list[tuple[Any, ...]] = []
    attempts: list[tuple[Any, ...]] = []
    for i in range(n):
        task = rnd.choices(tasks, weights)[0]
        tenant = TENANTS[int(rnd.paretovariate(1.2)) % len(TENANTS)]
        at = now - dt.timedelta(seconds=span * (i + rnd.random()) / n)
        tokens_in, tokens_out = rnd.randint(50, 4000), rnd.randint(20, 800)
        chain = chains[task]
        did = uuid.uuid4()
        succeeded = False
        for order, (provider, model, p_in, p_out) in enumerate(chain):
            fails = rnd.random() < (0.04 if order == 0 else 0.02)
            latency = rnd.lognormvariate(6.2, 0.5) if not fails else rnd.uniform(10, 3000)
            if fails:
                outcome, error = rnd.choice(
                    [("error", "server_error"), ("timeout", "timeout"), ("rate_limited", "rate_limited")]
                )
                cost = base = Decimal(0)
                t_in = t_out = 0
            else:
                outcome, error = "success", None
                t_in, t_out = tokens_in, tokens_out
                cost = ((t_in * p_in + t_out * p_out) / 1_000_000).quantize(Q)
                base = ((t_in * b_in + t_out * b_out) / 1_000_000).quantize(Q)
            attempts.append(
                (
                    uuid.uuid4(),
                    did,
                    order,
                    at + dt.timedelta(milliseconds=order),
                    provider,
                    model,
                    outcome,
                    task,
                    tenant,
                    "global",
                    round(latency, 3),
                    error,
                    500 if outcome == "error" else None,
                    t_in,
                    t_out,
                    0,
                    0,
                    cost,
                    base,
                    False,
                    None if fails else round(rnd.uniform(5, 9.5), 2),
                    order > 0,
                )
            )
            if not fails:
                succeeded = True
                break
        entries = [{"provider": p, "model": m} for p, m, _a, _b in chain]
        decisions.append(
            (
                did,
                at,
                tenant,
                None,
                task,
                "medium",
                "global",
                False,
                False,
                tokens_in,
                tokens_out,
                "succeeded" if succeeded else "failed",
                "balanced",
                chain[0][0],
                chain[0][1],
                orjson.dumps(entries).decode(),
                '[{"provider": "openai", "model": "gpt-4", "reason": "budget"}]',
                None,
                None,
                None,
                None,
            )
        )
        if len(decisions) >= CHUNK:
            yield decisions, attempts
            decisions, attempts = [], []
    if decisions:
        yield decisions, attempts


async def load(dsn: str, n: int, days: float, now: dt.datetime) -> float:
    conn = await asyncpg.connect(dsn)
    started = time.perf_counter()
    try:
        with tqdm(total=n, unit="decision", desc="COPY", smoothing=0.1) as bar:
            for decisions, attempts in generate(n, days, now):
                async with conn.transaction():
                    await conn.copy_records_to_table("decisions", records=decisions, columns=DECISION_COLUMNS)
                    await conn.copy_records_to_table("attempts", records=attempts, columns=ATTEMPT_COLUMNS)
                bar.update(len(decisions))
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - started


def peak_rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MiB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def time_endpoints(base: str, runs: int) -> list[tuple[str, str, float, float]]:
    paths = [
        "/providers",
        "/providers/deepseek",
        "/costs",
        "/tasks",
        "/fallbacks",
        "/decisions",
        "/recommendations",
        "/export",
    ]
    rows = []
    with httpx.Client(base_url=base, timeout=120) as client:
        for hours, label in ((24, "24 h"), (720, "30 d")):
            for path in paths:
                url = f"{API}{path}?window_hours={hours}"
                client.get(url).raise_for_status()  # warm: plans cached, pages in memory
                times = []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    client.get(url).raise_for_status()
                    times.append((time.perf_counter() - t0) * 1000)
                rows.append((label, path, statistics.median(times), max(times)))
    return rows


def stream_export(base: str, pid: int) -> dict[str, float]:
    before = peak_rss_mb(pid)
    size = 0
    t0 = time.perf_counter()
    url = f"{base}{API}/export?window_hours=720&format=ndjson&include_raw_data=true"
    with httpx.stream("GET", url, timeout=None) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            size += len(chunk)
    elapsed = time.perf_counter() - t0
    after = peak_rss_mb(pid)
    return {
        "seconds": elapsed,
        "mib": size / 2**20,
        "rss_before": before[0],
        "peak_before": before[1],
        "peak_after": after[1],
    }


async def create_db(name: str) -> str:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    return url


async def drop_db(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=35)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    args = parser.parse_args()
    name = f"router_bench_{uuid.uuid4().hex[:10]}"
    url = asyncio.run(create_db(name))
    now = dt.datetime.now(dt.UTC)
    proc = None
    try:
        seconds = asyncio.run(
            load(f"postgresql://postgres@127.0.0.1:5432/{name}", args.decisions, args.days, now)
        )
        print(
            f"loaded {args.decisions:,} decisions over {args.days:g} days in {seconds:.0f} s "
            f"({args.decisions / seconds:,.0f} decisions/s, roll-ups kept by the triggers)"
        )
        port = free_port()
        data = tempfile.mkdtemp(prefix="bench-analytics-")
        proc = start_uvicorn(
            "app.main:create_app",
            port,
            env={"DATABASE_URL": url, "ROUTER_DATA_DIR": data, "ROUTER_MASTER_KEY": ""},
        )
        base = f"http://127.0.0.1:{port}"
        print(f"\n{'window':<6} {'endpoint':<22} {'median ms':>10} {'max ms':>8}")
        worst = 0.0
        for label, path, median, high in time_endpoints(base, args.runs):
            worst = max(worst, median)
            print(f"{label:<6} {path:<22} {median:>10.1f} {high:>8.1f}")
        print(f"slowest median: {worst:.1f} ms (goal: every endpoint under 200 ms)")
        if not args.skip_export:
            e = stream_export(base, proc.pid)
            print(
                f"\nraw export, 30 days, ndjson: {e['mib']:,.0f} MiB in {e['seconds']:.0f} s "
                f"({e['mib'] / e['seconds']:.1f} MiB/s); service RSS {e['rss_before']:.0f} MiB before, "
                f"peak {e['peak_before']:.0f} MiB before and {e['peak_after']:.0f} MiB after the export"
            )
    finally:
        if proc is not None:
            stop(proc)
        if args.keep:
            print(f"kept database {name}")
        else:
            asyncio.run(drop_db(name))


if __name__ == "__main__":
    main()
