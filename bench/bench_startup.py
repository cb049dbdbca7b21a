"""Start-up time and memory of `llm-router serve`: seconds from spawning the process to the first
TCP connect on its port and to the first 200 on /health, and its resident memory (RSS) then and
after a short warm-up of routed requests.

Run: .venv/bin/python bench/bench_startup.py               (3 starts on an up-to-date SQLite database)
     .venv/bin/python bench/bench_startup.py --runs 5 --warmup 2000 --json
     .venv/bin/python bench/bench_startup.py --fresh           (each start creates its SQLite schema)
     DATABASE_URL=postgresql+asyncpg://... .venv/bin/python bench/bench_startup.py   (an upgraded PG)
Every start but a SQLite database's very first finds the schema at the code's head (PostgreSQL is
never migrated by the service), so that is the default; `llm-router db upgrade` prepares it.
The app's bytecode is compiled first, as `pip install` does for the image (Dockerfile): a checkout
run with PYTHONDONTWRITEBYTECODE=1 would otherwise compile ~160 modules from source at every start
(~0.2 s of CPU here), a cost no installed service pays.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.commands.demo import placeholder_keys  # noqa: E402
from app.config.loader import load_catalog  # noqa: E402
from bench.loadgen import free_port  # noqa: E402

ROUTE_BODY = {"task_type": "chat", "budget": "low", "context_size": 1200, "region": "global"}


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used (less sensitive to a busy machine than wall time)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _connects(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


async def one_start(env: dict[str, str], warmup: int, timeout_s: float = 30.0) -> dict[str, Any]:
    """Spawn the service, poll its port every 10 ms, then /health; optionally warm it up."""
    port = free_port()
    cmd = [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--log-level", "warning"]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    result: dict[str, Any] = {}
    try:
        while "port_open_s" not in result:
            if proc.poll() is not None:
                raise RuntimeError(f"serve exited with {proc.returncode}: "
                                   f"{proc.stderr.read().decode(errors='replace') if proc.stderr else ''}")
            if time.monotonic() - t0 > timeout_s:
                raise RuntimeError(f"the port did not open within {timeout_s} s")
            if await _connects(port):
                result["port_open_s"] = time.monotonic() - t0
            else:
                await asyncio.sleep(0.01)
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            while "health_200_s" not in result:
                async with session.get(f"{base}/health") as resp:
                    if resp.status == 200:
                        result["health_200_s"] = time.monotonic() - t0
            result["rss_ready_mib"] = rss_mib(proc.pid)
            result["cpu_ready_s"] = cpu_s(proc.pid)
            if warmup:
                sem = asyncio.Semaphore(8)

                async def route() -> None:
                    async with sem, session.post(f"{base}/route", json=ROUTE_BODY) as resp:
                        await resp.read()

                await asyncio.gather(*(route() for _ in range(warmup)))
                result["rss_after_warmup_mib"] = rss_mib(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return result


def service_env(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, **placeholder_keys(load_catalog(), os.environ),
           "ROUTER_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    env.setdefault("DATABASE_URL", f"sqlite+aiosqlite:///{data_dir}/router.db")
    for var in ("REDIS_URL", "ROUTER_MASTER_KEY"):
        env.pop(var, None)
    return env


async def run(runs: int, warmup: int, fresh: bool) -> dict[str, Any]:
    compileall.compile_dir(ROOT / "app", quiet=1)
    starts: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="llm-router-startup-") as tmp:
        if not fresh:
            subprocess.run([sys.executable, "-m", "app.cli", "db", "upgrade"], env=service_env(Path(tmp)),
                           cwd=ROOT, check=True, capture_output=True)
        for n in range(runs):
            data_dir = Path(tmp) / f"data-{n}" if fresh else Path(tmp)
            data_dir.mkdir(exist_ok=True)
            starts.append(await one_start(service_env(data_dir), warmup))
    keys = [k for k in ("port_open_s", "health_200_s", "cpu_ready_s", "rss_ready_mib",
                                "rss_after_warmup_mib")
            if k in starts[0]]
    return {"runs": [{k: round(s[k], 2) for k in keys} for s in starts],
            "median": {k: round(statistics.median(s[k] for s in starts), 2) for k in keys},
            "warmup_requests": warmup, "fresh_schema": fresh, "bytecode_compiled": True,
            "python": sys.version.split()[0],
            "malloc_arena_max": os.environ.get("MALLOC_ARENA_MAX")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=500, help="POST /route requests after start (0: none)")
    parser.add_argument("--fresh", action="store_true",
                        help="every start on a new SQLite data dir (it creates the schema)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = asyncio.run(run(args.runs, args.warmup, args.fresh))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for n, r in enumerate(report["runs"], 1):
        warm = f"  RSS after {args.warmup} requests {r['rss_after_warmup_mib']:.1f} MiB" \
            if args.warmup else ""
        print(f"run {n}: port open after {r['port_open_s']:.2f} s, /health 200 after "
              f"{r['health_200_s']:.2f} s (CPU {r['cpu_ready_s']:.2f} s), "
              f"RSS {r['rss_ready_mib']:.1f} MiB{warm}")
    m = report["median"]
    print(f"median: port open after {m['port_open_s']:.2f} s, /health 200 after {m['health_200_s']:.2f} s "
          f"(CPU {m['cpu_ready_s']:.2f} s), RSS {m['rss_ready_mib']:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
