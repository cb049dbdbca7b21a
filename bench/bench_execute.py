"""Execution speed: POST /execute in front of the provider simulator, against the simulator called
directly and a bare FastAPI pass-through (one aiohttp-backed client, no routing, no recording).

Run: .venv/bin/python bench/bench_execute.py [--seconds 5] [--concurrency 1 16 64]
Goal (issue 4): one worker of ours serves >= 60 % of the pass-through's requests per second at
concurrency 16. Added latency = a target's p50/p99 minus the simulator's own, in the same run.
Two pass-throughs: the issue's (httpx's AsyncClient over the httpx-aiohttp transport) and a
stricter one calling aiohttp directly (what /execute's provider calls used before
app/providers/http1.py; they now cost less than either client here); the goal is judged
against the issue's, and the ratio to the stricter one is printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.commands.demo import placeholder_keys, write_catalog
from app.config.loader import load_catalog
from app.simulator import SimulatorProcess
from bench.bench_routing import tree_cpu_seconds
from bench.loadgen import LoadResult, drive, free_port, start_uvicorn, stop

MESSAGES = [{"role": "user", "content": "In one sentence: what does a circuit breaker do?"}]
EXECUTE_BODY = {"task_type": "chat", "budget": "low", "messages": MESSAGES, "max_tokens": 64}
PROVIDER_BODY = {"model": "deepseek-chat", "messages": MESSAGES, "max_tokens": 64}
GOAL = 0.60
SIMULATOR_KEY = {"authorization": "Bearer bench-key"}  # the simulator wants a key


def line(name: str, c: int, r: LoadResult, direct: LoadResult, cpu_s: float | None) -> str:
    add50, add99 = r.pct(0.5) - direct.pct(0.5), r.pct(0.99) - direct.pct(0.99)
    cpu = f"{1e6 * cpu_s / r.requests:>9.0f}" if cpu_s is not None and r.requests else f"{'-':>9}"
    return (f"{name:<22}{c:>4}{r.rps:>10.0f}{r.pct(0.5):>9.2f}{r.pct(0.99):>9.2f}"
            f"{add50:>+11.2f}{add99:>+11.2f}{r.errors:>8}{cpu}")


async def run(args: argparse.Namespace) -> int:
    simulator = SimulatorProcess(log_level="warning").start()
    tmp = tempfile.TemporaryDirectory(prefix="bench-execute-")
    procs = []
    try:
        catalog = simulator.catalog(load_catalog())
        path = write_catalog(catalog, Path(tmp.name) / "catalog.yaml")
        ours_port, bare_port, direct_port = free_port(), free_port(), free_port()
        env = {**placeholder_keys(catalog, os.environ), "ROUTER_CONFIG": str(path),
               "DATABASE_URL": f"sqlite+aiosqlite:///{tmp.name}/router.db", "ROUTER_DATA_DIR": tmp.name,
               "ROUTER_LOG_LEVEL": "WARNING"}
        procs.append(start_uvicorn("app.main:create_app", ours_port, env))
        pids = {"router /execute": procs[-1].pid}
        upstream = str(catalog.providers["deepseek"].base_url).rstrip("/")  # already the simulator's
        for port, client in ((bare_port, "httpx"), (direct_port, "aiohttp")):
            procs.append(start_uvicorn("bench.passthrough_app:create_passthrough_app", port, {
                "PASSTHROUGH_UPSTREAM": f"{upstream}/chat/completions", "PASSTHROUGH_CLIENT": client}))
            pids["bare pass-through" if client == "httpx" else "pass-through, aiohttp"] = procs[-1].pid
        targets = {
            "simulator (direct)": (f"{upstream}/chat/completions", PROVIDER_BODY),
            "bare pass-through": (f"http://127.0.0.1:{bare_port}/passthrough", PROVIDER_BODY),
            "pass-through, aiohttp": (f"http://127.0.0.1:{direct_port}/passthrough", PROVIDER_BODY),
            "router /execute": (f"http://127.0.0.1:{ours_port}/api/brain/ai-assistant/execute", EXECUTE_BODY),
        }
        print(f"{'target':<22}{'c':>4}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'+p50 ms':>11}{'+p99 ms':>11}"
              f"{'errors':>8}{'CPU us/req':>11}")
        ratios: dict[int, float] = {}
        for c in args.concurrency:
            # Interleaved one-second slices, so a neighbour's load spike hits every target alike.
            # Each server's CPU time (/proc, its threads and child processes included) per request,
            # steadier than req/s.
            results = {name: LoadResult(0, 0, 0.0, []) for name in targets}
            cpu = dict.fromkeys(pids, 0.0)
            for _ in range(max(1, round(args.seconds))):
                for name, (url, body) in targets.items():
                    await drive(url, body, concurrency=c, seconds=0.0, warmup_s=0.2, headers=SIMULATOR_KEY)
                    cpu0 = tree_cpu_seconds(pids[name]) if name in pids else 0.0
                    part = await drive(url, body, concurrency=c, seconds=1.0, warmup_s=0.0,
                                      headers=SIMULATOR_KEY)
                    if name in pids:
                        cpu[name] += tree_cpu_seconds(pids[name]) - cpu0
                    total = results[name]
                    results[name] = LoadResult(total.requests + part.requests, total.errors + part.errors,
                                               total.seconds + part.seconds,
                                               total.latencies_ms + part.latencies_ms)
            direct = results["simulator (direct)"]
            for name, result in results.items():
                print(line(name, c, result, direct, cpu.get(name)))
            ours = results["router /execute"].rps
            ratios[c] = ours / results["bare pass-through"].rps
            strict = ours / results["pass-through, aiohttp"].rps
            print(f"{'':<22}{c:>4}  router / pass-through = {ratios[c]:.0%} "
                  f"(/ aiohttp pass-through = {strict:.0%})")
        ok = ratios.get(16, 1.0) >= GOAL
        print(f"goal: >= {GOAL:.0%} of the pass-through at concurrency 16: "
              f"{'met' if ok else 'NOT met'} ({ratios.get(16, float('nan')):.0%})")
        return 0 if ok else 1
    finally:
        for proc in procs:
            stop(proc)
        simulator.stop()
        tmp.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
