"""A/B: one endpoint served at once by two checkouts (e.g. a git worktree of an older commit and
this one), the load alternating between them in 1-second slices; prints req/s, p50/p99 and each
server's CPU time per request (/proc, its threads and child processes included), steadier than
req/s on a shared machine.

Run: git worktree add /tmp/base <commit>
     .venv/bin/python bench/bench_ab.py --base /tmp/base [--endpoint route|execute|chat|chat-stream]
         [--concurrency N ...] [--slices 10] [--auth] [--store sqlite|postgres]
         [--base-env KEY=VALUE ...] [--this-env KEY=VALUE ...]
Both run with this venv as `llm-router serve` (python -m app.cli serve), each importing `app` from
its own tree and recording to its own SQLite file, or with --store postgres to its own scratch
database on the local server (migrated by this tree, dropped at the end). --base-env and --this-env
set environment variables on one side only (the same tree twice: an A/B of a setting). For execute
and chat the provider simulator is the upstream and is also called directly in the same slices, so
"added" is a server's p50 minus the simulator's own. chat is compare_litellm.py's request (a pinned
model on /v1/chat/completions), chat-stream the same streamed (each stream read to its end, the
simulator's streamed too); --auth sets a master key on both servers and sends it.
Records committed after a slice ends fall outside it (both servers alike).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.commands.demo import placeholder_keys, write_catalog
from app.config.loader import load_catalog
from app.simulator import SimulatorProcess
from bench import bench_store
from bench.bench_routing import tree_cpu_seconds
from bench.loadgen import LoadResult, drive, free_port, stop

MESSAGES = [{"role": "user", "content": "In one sentence: what does a circuit breaker do?"}]
ENDPOINTS: dict[str, tuple[str, dict[str, Any]]] = {
    "route": ("/api/brain/ai-assistant/route", {"task_type": "chat", "budget": "low", "context_size": 2000}),
    "execute": ("/api/brain/ai-assistant/execute",
                {"task_type": "chat", "budget": "low", "messages": MESSAGES, "max_tokens": 64}),
    "chat": ("/v1/chat/completions", {"model": "openai/gpt-4o-mini", "messages": MESSAGES, "max_tokens": 64}),
    "chat-stream": ("/v1/chat/completions", {"model": "openai/gpt-4o-mini", "messages": MESSAGES,
                                             "max_tokens": 64, "stream": True}),
}
DIRECT_BODY = {"model": "gpt-4o-mini", "messages": MESSAGES, "max_tokens": 64}
MASTER_KEY = "sk-bench-ab-7d41c0"  # a throwaway key for two local servers


def start(tree: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=tree, env={**os.environ, **env, "PYTHONPATH": str(tree)})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{tree} did not start")


def pairs(items: list[str]) -> dict[str, str]:
    """KEY=VALUE arguments as a mapping."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"expected KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def merged(total: LoadResult, part: LoadResult) -> LoadResult:
    return LoadResult(total.requests + part.requests, total.errors + part.errors,
                      total.seconds + part.seconds, total.latencies_ms + part.latencies_ms)


async def run(args: argparse.Namespace) -> None:
    trees = {"base": Path(args.base).resolve(), "this": Path(__file__).resolve().parents[1]}
    upstream = args.endpoint != "route"
    simulator = SimulatorProcess(log_level="warning").start() if upstream else None
    path, body = ENDPOINTS[args.endpoint]
    headers = {"authorization": f"Bearer {MASTER_KEY}"} if args.auth else None
    procs: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    scratch: list[str] = []
    side_env = {"base": pairs(args.base_env), "this": pairs(args.this_env)}
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as tmp:
        try:
            catalog = simulator.catalog(load_catalog()) if simulator else load_catalog()
            catalog_path = write_catalog(catalog, Path(tmp) / "catalog.yaml")
            for name, tree in trees.items():
                data = Path(tmp) / name
                data.mkdir()
                database_url = f"sqlite+aiosqlite:///{data}/router.db"
                if args.store == "postgres":
                    db_name, database_url = await bench_store.scratch_database()
                    scratch.append(db_name)
                env = {**placeholder_keys(catalog, os.environ), "ROUTER_CONFIG": str(catalog_path),
                       "DATABASE_URL": database_url, "ROUTER_DATA_DIR": str(data),
                       "ROUTER_LOG_LEVEL": "WARNING", "ROUTER_HEALTH_PROBES": "false", **side_env[name]}
                if args.auth:
                    env["ROUTER_MASTER_KEY"] = MASTER_KEY
                port = free_port()
                procs[name] = (start(tree, port, env), f"http://127.0.0.1:{port}{path}")
            direct = f"{str(catalog.providers['openai'].base_url).rstrip('/')}/chat/completions"
            for c in args.concurrency:
                await measure(args, c, procs, trees, body, headers, direct if upstream else None)
        finally:
            for proc, _url in procs.values():
                stop(proc)
            if simulator:
                simulator.stop()
            for db_name in scratch:
                await bench_store.admin(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


async def measure(args: argparse.Namespace, c: int, procs: dict[str, tuple[subprocess.Popen[bytes], str]],
                  trees: dict[str, Path], body: dict[str, Any], headers: dict[str, str] | None,
                  direct: str | None) -> None:
    """Interleaved 1-second slices of each server (and the simulator, for added latency)."""
    for _proc, url in procs.values():  # warm both
        await drive(url, body, concurrency=c, seconds=1.0, warmup_s=0.0, headers=headers)
    results = {name: LoadResult(0, 0, 0.0, []) for name in procs}
    cpu = dict.fromkeys(procs, 0.0)
    sim = LoadResult(0, 0, 0.0, [])
    direct_body = {**DIRECT_BODY, "stream": bool(body.get("stream"))}
    for n in range(args.slices):
        if direct is not None:
            sim = merged(sim, await drive(direct, direct_body, concurrency=c, seconds=1.0, warmup_s=0.0,
                                          headers={"authorization": "Bearer bench-key"}))
        for name in (list(procs) if n % 2 == 0 else list(reversed(procs))):
            proc, url = procs[name]
            cpu0 = tree_cpu_seconds(proc.pid)
            part = await drive(url, body, concurrency=c, seconds=1.0, warmup_s=0.0, headers=headers)
            cpu[name] += tree_cpu_seconds(proc.pid) - cpu0
            results[name] = merged(results[name], part)
    print(f"/{args.endpoint}, concurrency {c}, {args.slices} slices of 1 s each, "
          f"load average {os.getloadavg()[0]:.1f}")
    if direct is not None:
        print(f"  simulator direct: {sim.rps:,.0f} req/s, p50 {sim.pct(0.5):.2f} ms, "
              f"p99 {sim.pct(0.99):.2f} ms")
    for name, res in results.items():
        added = f", added p50 {res.pct(0.5) - sim.pct(0.5):+.2f} ms" if direct is not None else ""
        print(f"  {name:<5} {trees[name]}: {res.rps:,.0f} req/s, p50 {res.pct(0.5):.2f} ms, "
              f"p99 {res.pct(0.99):.2f} ms{added}, {1e6 * cpu[name] / max(res.requests, 1):.0f} us CPU "
              f"per request, errors {res.errors}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the other checkout (e.g. a git worktree)")
    parser.add_argument("--endpoint", choices=sorted(ENDPOINTS), default="route")
    parser.add_argument("--slices", type=int, default=10)
    parser.add_argument("--concurrency", type=int, nargs="+", default=None,
                        help="default 32 for route, 16 for execute and chat")
    parser.add_argument("--auth", action="store_true", help="a master key on both servers, sent by the load")
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite",
                        help="where each server records: its own SQLite file, or its own scratch database")
    parser.add_argument("--base-env", nargs="*", default=[], metavar="KEY=VALUE", help="set for base only")
    parser.add_argument("--this-env", nargs="*", default=[], metavar="KEY=VALUE", help="set for this only")
    args = parser.parse_args()
    if args.concurrency is None:
        args.concurrency = [32 if args.endpoint == "route" else 16]
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
