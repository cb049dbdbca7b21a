"""Store benchmark: what recording costs /route, and how many rows/s the writer puts into PostgreSQL.

1. /route throughput with recording on and off, in the same run: the service runs as a
   `llm-router serve` subprocess (one uvicorn worker) on a scratch PostgreSQL database, driven
   by an aiohttp load generator at fixed concurrency for a bounded time. Both services run at
   once and the load alternates between them in short slices, so a busy shared machine slows
   both alike; medians of the slices are compared, by throughput and by the service's CPU time
   per request. Every answered decision is then counted in the database.
2. Sustained writer throughput: realistic decision and attempt records (the chain and the
   exclusion list of real routing decisions) submitted to the RecordWriter as fast as it takes
   them, timed until all are committed.

    .venv/bin/python bench/bench_store.py [--seconds 10] [--slices 10] [--concurrency 32] [--rows 200000]

Needs the PostgreSQL server of the test setup (127.0.0.1:5432, database `test` for admin);
creates and drops its own database `router_bench_<random>`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import sqlalchemy as sa
from uuid_utils import uuid7

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config.loader import load_catalog  # noqa: E402
from app.records import AttemptRecord, DecisionRecord, Outcome  # noqa: E402
from app.routing.router import SmartLLMRouter  # noqa: E402
from app.routing.schemas import RouteRequest  # noqa: E402
from app.store import migrate  # noqa: E402
from app.store.engine import create_engine, create_sessionmaker  # noqa: E402
from app.store.options import WriterOptions  # noqa: E402
from app.store.spool import Spool  # noqa: E402
from app.store.writer import RecordWriter  # noqa: E402

ADMIN_DSN = os.environ.get("ROUTER_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
ROUTE = "/api/brain/ai-assistant/route"
BODIES = [
    {"task_type": "chat", "budget": "low", "context_size": 2000},
    {"task_type": "reasoning", "budget": "high", "context_size": 8000},
    {"task_type": "chat", "budget": "medium", "region": "eu", "requires_compliance": True},
    {"task_type": "rag", "budget": "medium", "context_size": 12000},
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def scratch_database(revision: str = "heads") -> tuple[str, str]:
    name = f"router_bench_{uuid7().hex[-12:]}"
    await admin(f'CREATE DATABASE "{name}"')
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine, revision)
    finally:
        await engine.dispose()
    return name, url


async def scalar(url: str, sql: str) -> Any:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(sa.text(sql))).scalar_one()
    finally:
        await engine.dispose()


def start_service(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--log-level", "warning"],
            cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
        )
    return proc


async def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"service exited with {proc.returncode}")
            try:
                async with session.get(f"http://127.0.0.1:{port}/health") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("service did not start within 60 s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process on this machine (the server of the benchmark runs
    here); processes that end in between are missed, so the figure errs low, not high."""
    total = 0.0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().startswith("postgres"):
                total += cpu_seconds(int(comm.parent.name))
        except (OSError, ValueError):
            continue
    return total


async def drive(port: int, seconds: float, concurrency: int, warmup: float,
                pid: int | None = None) -> dict[str, float]:
    """Fixed concurrency for a bounded time: answered requests per second, latencies, and the
    service's CPU time per request (robust on a shared machine where throughput is noisy)."""
    latencies: list[float] = []
    ok = 0
    answered = 0
    errors = 0
    url = f"http://127.0.0.1:{port}{ROUTE}"
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.monotonic()
        measure_from = start + warmup
        stop = measure_from + seconds

        async def worker(i: int) -> None:
            nonlocal ok, answered, errors
            n = i
            while (now := time.monotonic()) < stop:
                async with session.post(url, json=BODIES[n % len(BODIES)]) as resp:
                    await resp.read()
                    done = time.monotonic()
                    answered += resp.status == 200
                    if now >= measure_from:
                        if resp.status == 200:
                            ok += 1
                            latencies.append(done - now)
                        else:
                            errors += 1
                n += 1

        async def cpu_window() -> tuple[float, float, float]:
            await asyncio.sleep(max(0.0, measure_from - time.monotonic()))
            first, pg_first = (cpu_seconds(pid), postgres_cpu_seconds()) if pid else (0.0, 0.0)
            await asyncio.sleep(max(0.0, stop - time.monotonic()))
            pg = postgres_cpu_seconds() - pg_first if pid else 0.0
            return first, cpu_seconds(pid) if pid else 0.0, pg

        window = asyncio.create_task(cpu_window())
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        cpu_start, cpu_end, pg_cpu = await window
    latencies.sort()
    return {
        "rps": ok / seconds,
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else 0.0,
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)] if latencies else 0.0,
        "errors": errors,
        "answered": answered,
        "cpu_us_per_request": 1e6 * (cpu_end - cpu_start) / ok if ok else 0.0,
        "postgres_cpu_us_per_request": 1e6 * pg_cpu / ok if ok else 0.0,
    }


async def route_throughput(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Both services run at once; the load alternates between them in short slices, so the
    noise of a shared machine falls on both alike."""
    keys = {p.api_key_env: "bench-placeholder" for p in load_catalog().providers.values()}
    slices: dict[str, list[dict[str, float]]] = {"on": [], "off": []}
    procs: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        log = Path(tmp) / "service.log"
        for mode in ("on", "off"):
            env = {**keys, "DATABASE_URL": url, "ROUTER_DATA_DIR": str(Path(tmp) / mode),
                   "ROUTER_RECORD_DECISIONS": "true" if mode == "on" else "false"}
            port = free_port()
            procs[mode] = (start_service(env, port, log), port)
        try:
            for proc, port in procs.values():
                await wait_ready(port, proc)
                await drive(port, args.warmup, args.concurrency, 0.0)
            for n in range(args.slices):
                for mode in ("on", "off") if n % 2 == 0 else ("off", "on"):
                    proc, port = procs[mode]
                    slices[mode].append(await drive(port, args.seconds / args.slices,
                                                    args.concurrency, 0.25, proc.pid))
        finally:
            codes = {}
            for mode, (proc, _) in procs.items():
                proc.send_signal(signal.SIGTERM)
                codes[mode] = proc.wait(60)
    answered = sum(r["answered"] for r in slices["on"])
    stored = await scalar(url, "SELECT count(*) FROM decisions")
    result: dict[str, Any] = {"exit_codes": codes, "answered_on": answered, "stored": stored}
    for mode in ("on", "off"):
        result[f"{mode}_rps"] = statistics.median(r["rps"] for r in slices[mode])
        result[f"{mode}_cpu"] = statistics.median(r["cpu_us_per_request"] for r in slices[mode])
        result[f"{mode}_p99"] = statistics.median(r["p99_ms"] for r in slices[mode])
        result[f"{mode}_pg_cpu"] = statistics.median(r["postgres_cpu_us_per_request"] for r in slices[mode])
        print(f"  recording {mode:<3} slices (req/s): "
              + " ".join(f"{r['rps']:.0f}" for r in slices[mode]), flush=True)
    # Slice n of each mode ran back to back, so compare them pairwise: the median ratio is far
    # less sensitive to the machine's load swings than the ratio of the two medians.
    pairs = list(zip(slices["on"], slices["off"], strict=True))
    result["cost_percent"] = 100 * (1 - statistics.median(on["rps"] / off["rps"] for on, off in pairs))
    result["cpu_cost_percent"] = 100 * (1 - statistics.median(
        off["cpu_us_per_request"] / on["cpu_us_per_request"] for on, off in pairs))
    return result


def sample_records(count: int) -> tuple[list[DecisionRecord], list[AttemptRecord]]:
    """Decisions from the real router (full chain and exclusions) with one or two attempts each."""
    router = SmartLLMRouter(check_keys=False)
    templates = [router.decide(RouteRequest.model_validate(b)) for b in BODIES]
    decisions: list[DecisionRecord] = []
    attempts: list[AttemptRecord] = []
    while len(decisions) + len(attempts) < count:
        decision = templates[len(decisions) % len(templates)]
        rec = DecisionRecord.from_decision(decision)
        rec.id = str(uuid7())
        rec.tenant = "bench-writer"
        decisions.append(rec)
        for order in range(1 + len(decisions) % 2):
            cand = decision.chain[order].candidate
            attempts.append(AttemptRecord(
                id=str(uuid7()), decision_id=rec.id, attempt_order=order, provider=cand.provider,
                model=cand.model, outcome=Outcome.ERROR if order == 0 and len(decisions) % 2 else
                Outcome.SUCCESS, task_type=rec.task_type, latency_ms=350.0, input_tokens=2000,
                output_tokens=400, cost_usd=Decimal("0.0012345678"), baseline_cost_usd=Decimal("0.068"),
                is_fallback=order > 0, tenant="bench",
            ))
    return decisions, attempts


async def writer_throughput(url: str, rows: int) -> dict[str, float]:
    decisions, attempts = sample_records(rows)
    engine = create_engine(url)
    with tempfile.TemporaryDirectory(prefix="bench-spool-") as tmp:
        options = WriterOptions.model_validate({"queue_size": 10 * rows})
        writer = RecordWriter(create_sessionmaker(engine), Spool(Path(tmp)), options)
        await writer.start()
        started, cpu_started = time.perf_counter(), time.process_time()
        by_decision: dict[str, list[AttemptRecord]] = {}
        for a in attempts:
            by_decision.setdefault(a.decision_id, []).append(a)
        for d in decisions:
            writer.submit_decision(d)
            writer.submit_attempts(by_decision.get(d.id, []))
        submitted = time.perf_counter() - started
        assert await writer.flush(600), "the writer did not finish"
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started  # this process only: the database is another
        stats = writer.stats
        await writer.close()
    await engine.dispose()
    total = len(decisions) + len(attempts)
    stored = await scalar(url, "SELECT count(*) FROM attempts") + await scalar(
        url, "SELECT count(*) FROM decisions WHERE tenant = 'bench-writer'")
    row_bytes = await scalar(url, "SELECT avg(pg_column_size(d.*))::int FROM decisions d "
                                  "WHERE tenant = 'bench-writer'")
    return {"rows": total, "seconds": elapsed, "rows_per_s": total / elapsed,
            "submit_us_per_row": 1e6 * submitted / total, "cpu_us_per_row": 1e6 * cpu / total,
            "decision_row_bytes": row_bytes, "spooled": stats.spooled,
            "dropped": stats.dropped, "stored": stored}


async def route_section(url: str, args: argparse.Namespace) -> None:
    print(f"/route, one uvicorn worker per service, {args.concurrency} concurrent clients, "
          f"{args.seconds:g} s per mode in {args.slices} alternating slices, recording into "
          "PostgreSQL:", flush=True)
    r = await route_throughput(url, args)
    print(f"recording on  {r['on_rps']:8.0f} req/s (median slice), p99 {r['on_p99']:.0f} ms, "
          f"service CPU {r['on_cpu']:.0f} us/request")
    print(f"recording off {r['off_rps']:8.0f} req/s (median slice), p99 {r['off_p99']:.0f} ms, "
          f"service CPU {r['off_cpu']:.0f} us/request")
    print(f"PostgreSQL CPU per request while recording {r['on_pg_cpu']:.0f} us "
          f"(while not: {r['off_pg_cpu']:.0f} us)")
    print(f"recording costs {r['cost_percent']:.1f} % of /route throughput and "
          f"{r['cpu_cost_percent']:.1f} % of CPU-bound capacity (median of paired slices; "
          "goal < 15 %)")
    verdict = "every answered decision stored" if r["stored"] >= r["answered_on"] else "MISSING decisions"
    print(f"{verdict}: {r['answered_on']} answered while measured, {r['stored']} stored in all; "
          f"exit codes {r['exit_codes']}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per mode")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--slices", type=int, default=10, help="alternating slices per mode")
    parser.add_argument("--rows", type=int, default=200_000, help="rows for the writer benchmark")
    parser.add_argument("--writer-only", action="store_true")
    parser.add_argument("--revision", default="heads",
                        help="schema revision for the writer benchmark (0001: the store's tables alone, "
                             "without later revisions' triggers)")
    args = parser.parse_args()

    name, url = await scratch_database()
    try:
        if not args.writer_only:
            await route_section(url, args)
        if args.revision != "heads":
            await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            name, url = await scratch_database(args.revision)
        print(f"\nwriter into PostgreSQL (schema {args.revision}), {args.rows} rows (decisions with "
              "chain and exclusions, attempts):", flush=True)
        writer = await writer_throughput(url, args.rows)
        print(f"{writer['rows']} rows in {writer['seconds']:.2f} s = {writer['rows_per_s']:,.0f} rows/s "
              f"(goal > 5,000); submit {writer['submit_us_per_row']:.1f} us/row on the caller, "
              f"{writer['cpu_us_per_row']:.1f} us of this process's CPU per row in all; "
              f"spooled {writer['spooled']}, dropped {writer['dropped']}, stored {writer['stored']}; "
              f"a stored decision row takes {writer['decision_row_bytes']} bytes on average")
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
