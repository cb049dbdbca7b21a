"""A/B: one endpoint served at once by two checkouts (e.g. a git worktree of an older commit and
this one), the load alternating between them in 1-second slices; prints req/s and each server's
CPU time per request (/proc, its threads included), steadier than req/s on a shared machine.

Run: git worktree add /tmp/base <commit>
     .venv/bin/python bench/bench_ab.py --base /tmp/base [--endpoint route|execute] [--slices 10]
Both run with this venv; each imports `app` from its own tree and records to its own SQLite file.
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
from bench.bench_routing import cpu_seconds
from bench.loadgen import drive, free_port, stop

MESSAGES = [{"role": "user", "content": "In one sentence: what does a circuit breaker do?"}]
BODIES: dict[str, dict[str, Any]] = {
    "route": {"task_type": "chat", "budget": "low", "context_size": 2000},
    "execute": {"task_type": "chat", "budget": "low", "messages": MESSAGES, "max_tokens": 64},
}


def start(tree: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning", "--no-access-log"]
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


async def run(args: argparse.Namespace) -> None:
    trees = {"base": Path(args.base).resolve(), "this": Path(__file__).resolve().parents[1]}
    simulator = SimulatorProcess(log_level="warning").start() if args.endpoint == "execute" else None
    procs: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as tmp:
        try:
            catalog = simulator.catalog(load_catalog()) if simulator else load_catalog()
            path = write_catalog(catalog, Path(tmp) / "catalog.yaml")
            for name, tree in trees.items():
                data = Path(tmp) / name
                data.mkdir()
                env = {**placeholder_keys(catalog, os.environ), "ROUTER_CONFIG": str(path),
                       "DATABASE_URL": f"sqlite+aiosqlite:///{data}/router.db", "ROUTER_DATA_DIR": str(data),
                       "ROUTER_LOG_LEVEL": "WARNING", "ROUTER_HEALTH_PROBES": "false"}
                port = free_port()
                procs[name] = (start(tree, port, env),
                               f"http://127.0.0.1:{port}/api/brain/ai-assistant/{args.endpoint}")
            body = BODIES[args.endpoint]
            for _proc, url in procs.values():  # warm both
                await drive(url, body, concurrency=args.concurrency, seconds=1.0, warmup_s=0.0)
            totals = {name: [0, 0.0, 0] for name in procs}
            for n in range(args.slices):
                for name in (list(procs) if n % 2 == 0 else list(reversed(procs))):
                    proc, url = procs[name]
                    cpu0 = cpu_seconds(proc.pid)
                    res = await drive(url, body, concurrency=args.concurrency, seconds=1.0, warmup_s=0.0)
                    total = totals[name]
                    total[0] += res.requests
                    total[1] += cpu_seconds(proc.pid) - cpu0
                    total[2] += res.errors
            print(f"/{args.endpoint}, concurrency {args.concurrency}, {args.slices} slices of 1 s each, "
                  f"load average {os.getloadavg()[0]:.1f}")
            for name, (requests, cpu_s, errors) in totals.items():
                print(f"  {name:<5} {trees[name]}: {requests / args.slices:,.0f} req/s, "
                      f"{1e6 * cpu_s / max(requests, 1):.0f} us CPU per request, errors {errors}")
        finally:
            for proc, _url in procs.values():
                stop(proc)
            if simulator:
                simulator.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the other checkout (e.g. a git worktree)")
    parser.add_argument("--endpoint", choices=sorted(BODIES), default="route")
    parser.add_argument("--slices", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=None,
                        help="default 32 for route, 16 for execute")
    args = parser.parse_args()
    if args.concurrency is None:
        args.concurrency = 32 if args.endpoint == "route" else 16
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
