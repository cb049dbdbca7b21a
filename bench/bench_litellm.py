"""Side by side with LiteLLM: our /v1/chat/completions and LiteLLM's Router (bench/litellm_app.py, the
`bench` extra: pip install -e '.[bench]') in front of the same provider simulator, one uvicorn worker
each, same machine, same run, interleaved one-second slices; and the simulator called directly.

Run: .venv/bin/python bench/bench_litellm.py [--seconds 5] [--concurrency 1 16 64]
Reports requests per second, added latency p50/p99 over the simulator, RSS after the load, seconds
until the port opens, and availability with fallback while the primary (openai) fails 30 % and 100 %.
Both pin the same primary (openai gpt-4o-mini) with mistral and deepseek as fallbacks. This measures
LiteLLM's Router library, not its proxy server (whose extra would downgrade packages of our venv).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.commands.demo import placeholder_keys, write_catalog
from app.config.loader import load_catalog
from app.simulator import SimulatorProcess
from bench.loadgen import LoadResult, drive, free_port, start_uvicorn, stop

MESSAGES = [{"role": "user", "content": "In one sentence: what does a circuit breaker do?"}]
OURS_BODY = {"model": "openai/gpt-4o-mini", "messages": MESSAGES, "max_tokens": 64}
DIRECT_BODY = {"model": "gpt-4o-mini", "messages": MESSAGES, "max_tokens": 64}


def rss_mib(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def started(target: str, port: int, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], float]:
    """Start a uvicorn factory and return it with the seconds until its port accepted connections."""
    t0 = time.monotonic()
    proc = start_uvicorn(target, port, env)
    return proc, time.monotonic() - t0


async def interleaved(targets: dict[str, tuple[str, dict[str, object]]], c: int,
                      seconds: float) -> dict[str, LoadResult]:
    """One-second slices per target in turn, so a neighbour's load spike hits every target alike."""
    results = {name: LoadResult(0, 0, 0.0, []) for name in targets}
    for _ in range(max(1, round(seconds))):
        for name, (url, body) in targets.items():
            part = await drive(url, body, concurrency=c, seconds=1.0, warmup_s=0.2)
            total = results[name]
            results[name] = LoadResult(total.requests + part.requests, total.errors + part.errors,
                                       total.seconds + part.seconds, total.latencies_ms + part.latencies_ms)
    return results


async def run(args: argparse.Namespace) -> int:
    simulator = SimulatorProcess(log_level="warning").start()
    tmp = tempfile.TemporaryDirectory(prefix="bench-litellm-")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        catalog = simulator.catalog(load_catalog())
        path = write_catalog(catalog, Path(tmp.name) / "catalog.yaml")
        ours_port, theirs_port = free_port(), free_port()
        env = {**placeholder_keys(catalog, os.environ), "ROUTER_CONFIG": str(path),
               "DATABASE_URL": f"sqlite+aiosqlite:///{tmp.name}/router.db", "ROUTER_DATA_DIR": tmp.name,
               "ROUTER_LOG_LEVEL": "WARNING"}
        ours, ours_open = started("app.main:create_app", ours_port, env)
        theirs, theirs_open = started("bench.litellm_app:create_litellm_app", theirs_port, {
            "LITELLM_BENCH_SIMULATOR": simulator.url, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False"})
        procs += [ours, theirs]
        targets = {
            "simulator (direct)": (f"{simulator.url}/openai/v1/chat/completions", DIRECT_BODY),
            "smart-llm-router": (f"http://127.0.0.1:{ours_port}/v1/chat/completions", OURS_BODY),
            "litellm Router": (f"http://127.0.0.1:{theirs_port}/v1/chat/completions", DIRECT_BODY),
        }
        print(f"port open: ours {ours_open:.2f} s, litellm {theirs_open:.2f} s")
        print(f"{'target':<20}{'c':>4}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'+p50 ms':>10}{'+p99 ms':>10}"
              f"{'errors':>8}")
        for c in args.concurrency:
            results = await interleaved(targets, c, args.seconds)
            direct = results["simulator (direct)"]
            for name, r in results.items():
                print(f"{name:<20}{c:>4}{r.rps:>10.0f}{r.pct(0.5):>9.2f}{r.pct(0.99):>9.2f}"
                      f"{r.pct(0.5) - direct.pct(0.5):>+10.2f}{r.pct(0.99) - direct.pct(0.99):>+10.2f}"
                      f"{r.errors:>8}")
            ratio = results["smart-llm-router"].rps / max(results["litellm Router"].rps, 1e-9)
            print(f"{'':<20}{c:>4}  ours / litellm req/s = {ratio:.1f}x")
        print(f"RSS after load MiB: ours {rss_mib(ours.pid):.0f}, litellm {rss_mib(theirs.pid):.0f}")
        gateways = {k: v for k, v in targets.items() if k != "simulator (direct)"}
        for rate in (0.3, 1.0):
            simulator.configure("openai", error_rate=rate, status=500)
            results = await interleaved(gateways, 16, args.seconds)
            for name, r in results.items():
                ok = 100 * (r.requests - r.errors) / r.requests if r.requests else float("nan")
                print(f"primary failing {rate:.0%}: {name:<18} availability {ok:7.3f} % "
                      f"({r.requests - r.errors}/{r.requests}), p50 {r.pct(0.5):.2f} ms, req/s {r.rps:.0f}")
            simulator.configure("openai")
        return 0
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
