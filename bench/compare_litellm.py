"""Side by side with LiteLLM's proxy server: both gateways in front of the same provider simulator, same
number of workers, same request body, measured in the same run.

Run: .venv/bin/python bench/compare_litellm.py [--seconds 5] [--workers 1] [--concurrency 1 16 64]
On first use it creates .bench-venvs/litellm/ and installs litellm[proxy]==1.108.7 there (never into the
project's venv). It starts the simulator (`llm-router simulator`), LiteLLM's proxy (`litellm --config`,
config generated: one OpenAI-compatible deployment on the simulator, offline cost map, telemetry off, a
non-default master key) and ours (`llm-router serve`, catalog pointed at the simulator), all on free
loopback ports, and drives load from this process (a separate one from every gateway): requests/s and
added latency p50/p99 over the simulator called directly at each concurrency, streaming time to the first
token, RSS of each gateway's process tree after the load, seconds from spawn to port open. Prints the
tables and writes bench/results/compare_litellm.{md,json} (--output-dir to change).
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.commands.demo import placeholder_keys, write_catalog
from app.config.loader import load_catalog
from app.simulator import SimulatorProcess
from bench import bench_store, gateways
from bench import compare_report as report
from bench.bench_routing import tree_cpu_seconds
from bench.compare_report import DIRECT, LITELLM, OURS, PASSTHROUGH
from bench.loadgen import LoadResult, drive, free_port
from bench.rawload import Driven, drive_raw

MODEL = "openai/gpt-4o-mini"  # ours: a pinned catalog model; LiteLLM: the model_name of its deployment
MAX_TOKENS = 64
MESSAGES = [{"role": "user", "content": "In one sentence: what does a circuit breaker do?"}]
MASTER_KEY = "sk-bench-compare-3f9c1e"  # both gateways check it; the simulator accepts any key
RESULTS = Path(__file__).resolve().parent / "results"


def body(stream: bool = False) -> dict[str, Any]:
    return {"model": MODEL, "messages": MESSAGES, "max_tokens": MAX_TOKENS, "stream": stream}


def ours_env(catalog_path: Path, data_dir: Path, workers: int, base: dict[str, str],
             database_url: str | None = None) -> dict[str, str]:
    """Ours records into `database_url`, by default a fresh SQLite file (the embedded default)."""
    env = gateways.without(base, ("DATABASE_URL", "REDIS_URL", "ROUTER_CONFIG"))
    database_url = database_url or f"sqlite+aiosqlite:///{data_dir}/router.db"
    env |= {"ROUTER_CONFIG": str(catalog_path), "DATABASE_URL": database_url,
            "ROUTER_DATA_DIR": str(data_dir), "ROUTER_LOG_LEVEL": "WARNING", "ROUTER_MASTER_KEY": MASTER_KEY}
    if workers > 1:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(data_dir / "metrics")
    return env


async def first_answer(url: str, spawned_at: float, timeout_s: float = 60.0) -> float:
    """Seconds from spawn until `url` answered a chat completion with 200."""
    headers = {"authorization": f"Bearer {MASTER_KEY}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        while time.monotonic() - spawned_at < timeout_s:
            try:
                async with session.post(url, json=body()) as resp:
                    await resp.read()
                    if resp.status == 200:
                        return time.monotonic() - spawned_at
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} answered no chat completion within {timeout_s:.0f} s")


async def drive_stream(url: str, *, concurrency: int, seconds: float, headers: dict[str, str]) -> Driven:
    """Closed loop of streamed completions through aiohttp's client (--driver aiohttp): whole-stream
    latencies, and time to the first content delta."""
    ttft: list[float] = []
    latencies: list[float] = []
    errors = 0
    async with aiohttp.ClientSession(headers=headers) as session:
        async def one() -> None:
            nonlocal errors
            t0 = time.perf_counter()
            first: float | None = None
            async with session.post(url, json=body(stream=True)) as resp:
                async for line in resp.content:
                    if first is None and has_content(line):
                        first = (time.perf_counter() - t0) * 1000
                if resp.status >= 400 or first is None:
                    errors += 1
                    return
            ttft.append(first)
            latencies.append((time.perf_counter() - t0) * 1000)

        async def worker() -> None:
            while time.monotonic() < stop_at:
                await one()

        await asyncio.gather(*(one() for _ in range(concurrency)))  # warm-up
        ttft.clear()
        latencies.clear()
        errors = 0
        cpu0, t0 = time.process_time(), time.monotonic()
        stop_at = t0 + seconds
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return Driven(LoadResult(len(latencies), errors, time.monotonic() - t0, latencies), ttft,
                      time.process_time() - cpu0)


def has_content(line: bytes) -> bool:
    """Whether an SSE line is a chat.completion.chunk carrying some text."""
    if not line.startswith(b"data:"):
        return False
    payload = line[5:].strip()
    if not payload or payload == b"[DONE]":
        return False
    try:
        chunk = json.loads(payload)
    except ValueError:
        return False
    return any((choice.get("delta") or {}).get("content") for choice in chunk.get("choices") or ())


Slice = Callable[[str, int], Awaitable[Driven]]


async def interleaved(urls: dict[str, str], c: int, seconds: float,
                      one_slice: Slice) -> dict[str, list[Driven]]:
    """Rounds of one-second slices, one per target in turn, so a neighbour's load spike hits every
    target alike; each target's slices in round order."""
    parts: dict[str, list[Driven]] = {name: [] for name in urls}
    for _ in range(max(1, round(seconds))):
        for name, url in urls.items():
            parts[name].append(await one_slice(url, c))
    return parts


def merged(parts: list[Driven]) -> Driven:
    """Slices added up: requests, errors, seconds and the driver's CPU summed, samples pooled."""
    total = Driven(LoadResult(0, 0, 0.0, []))
    for part in parts:
        total.result.requests += part.result.requests
        total.result.errors += part.result.errors
        total.result.seconds += part.result.seconds
        total.result.latencies_ms += part.result.latencies_ms
        total.first_token_ms += part.first_token_ms
        total.cpu_s += part.cpu_s
        if part.server_cpu_s is not None:
            total.server_cpu_s = (total.server_cpu_s or 0.0) + part.server_cpu_s
    return total


def figures(part: Driven) -> dict[str, Any]:
    """A target's summary, with the driver's own CPU per answered request and, when measured, the
    target's (its process tree: ours with its SQLite writer process; the simulator's is the direct
    target's alone)."""
    r = part.result
    server = part.server_cpu_s
    return {**report.summary(r.requests, r.errors, r.seconds, r.latencies_ms),
            "driver_cpu_us": round(1e6 * part.cpu_s / r.requests) if r.requests else None,
            "server_cpu_us": round(1e6 * server / r.requests) if r.requests and server is not None else None}


def round_ratios(ours: list[Driven], theirs: list[Driven]) -> list[float | None]:
    """Our requests/s over LiteLLM's in each round (both measured within the same couple of seconds)."""
    return [report.ratio(a.result.rps, b.result.rps) for a, b in zip(ours, theirs, strict=True)]


async def measure(urls: dict[str, str], args: argparse.Namespace,
                  pids: dict[str, int] | None = None) -> dict[str, list[dict[str, Any]]]:
    headers = {"authorization": f"Bearer {MASTER_KEY}"}
    pid_at = {urls[name]: pid for name, pid in (pids or {}).items() if name in urls}

    def server_cpu(url: str) -> Callable[[], float] | None:
        pid = pid_at.get(url)
        return None if pid is None else lambda: tree_cpu_seconds(pid)

    async def plain(url: str, c: int) -> Driven:
        if args.driver == "aiohttp":
            cpu0 = time.process_time()
            result = await drive(url, body(), concurrency=c, seconds=1.0, warmup_s=0.2, headers=headers)
            return Driven(result, cpu_s=time.process_time() - cpu0)  # warm-up included
        return await drive_raw(url, body(), concurrency=c, seconds=1.0, warmup_s=0.2, headers=headers,
                               server_cpu=server_cpu(url))

    async def streamed(url: str, c: int) -> Driven:
        if args.driver == "aiohttp":
            return await drive_stream(url, concurrency=c, seconds=1.0, headers=headers)
        return await drive_raw(url, body(stream=True), concurrency=c, seconds=1.0, warmup_s=0.2,
                               headers=headers, first_token=has_content, server_cpu=server_cpu(url))

    load, streaming = [], []
    for c in args.concurrency:
        parts = await interleaved(urls, c, args.seconds, plain)
        targets = report.with_added({name: figures(merged(slices)) for name, slices in parts.items()})
        load.append({"concurrency": c, "targets": targets,
                     "ours_over_litellm": report.ratio(targets[OURS]["rps"], targets[LITELLM]["rps"]),
                     "ratio_rounds": round_ratios(parts[OURS], parts[LITELLM])})
        print(f"c={c}: " + ", ".join(f"{n} {t['rps']:.0f} req/s p50 {t['p50_ms']} ms"
                                     for n, t in targets.items()), file=sys.stderr)
    streams = {name: url for name, url in urls.items() if name != PASSTHROUGH}  # it does not stream
    for c in args.stream_concurrency:
        parts = await interleaved(streams, c, args.seconds, streamed)
        targets = {}
        for name, slices in parts.items():
            total = merged(slices)
            targets[name] = {**figures(total),
                             "ttft_p50_ms": report.rounded(report.percentile(total.first_token_ms, 0.5)),
                             "ttft_p99_ms": report.rounded(report.percentile(total.first_token_ms, 0.99))}
        streaming.append({"concurrency": c, "targets": report.with_added(targets, ("ttft_p50_ms",))})
    return {"load": load, "streaming": streaming}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    cli = gateways.ensure_litellm_venv()
    loop_s_at_start = report.python_loop_s()  # the machine's speed before anything starts
    versions = {package: gateways.installed_version(gateways.LITELLM_VENV, package)
                for package in ("litellm", "fastapi", "uvicorn")}
    simulator = SimulatorProcess(log_level="warning").start()
    tmp = tempfile.TemporaryDirectory(prefix="compare-litellm-")
    work = Path(tmp.name)
    started: list[gateways.Gateway] = []
    scratch, database_url = None, None
    try:
        catalog = simulator.catalog(load_catalog())
        upstream = str(catalog.providers["openai"].base_url).rstrip("/")
        catalog_path = write_catalog(catalog, work / "catalog.yaml")
        config = gateways.write_litellm_config(work / "litellm.yaml", gateways.litellm_config(
            MODEL, upstream, "sk-simulator", MASTER_KEY))
        if args.store == "postgres":  # a scratch database at the code's head, dropped at the end
            scratch, database_url = await bench_store.scratch_database()
        env = {**placeholder_keys(catalog, os.environ), **ours_env(catalog_path, work, args.workers,
                                                                   dict(os.environ), database_url)}
        # As `pip install` leaves an installed service (and LiteLLM's venv): bytecode compiled, so a
        # checkout run with PYTHONDONTWRITEBYTECODE=1 does not compile ~160 modules at every start.
        for package in ("app", "bench"):
            compileall.compile_dir(gateways.ROOT / package, quiet=1)
        startup: dict[str, dict[str, float]] = {}
        # One at a time, so neither starts while the other competes for the CPU.
        for name, cmd, gw_env, path in (
                (LITELLM, gateways.litellm_command(cli, config, free_port(), args.workers),
                 gateways.litellm_env(os.environ), "/v1/chat/completions"),
                (OURS, gateways.ours_command(free_port(), args.workers), env, "/v1/chat/completions"),
                (PASSTHROUGH, gateways.passthrough_command(free_port(), args.workers),
                 gateways.passthrough_env(os.environ, f"{upstream}/chat/completions"), "/passthrough")):
            port = int(cmd[cmd.index("--port") + 1])
            t0 = time.monotonic()
            gw = gateways.spawn(name, cmd, gw_env, port, args.workers, work / f"{name}.log")
            started.append(gw)
            answered = await first_answer(gw.url + path, t0)
            startup[name] = {"port_open_s": round(gw.port_open_s, 2), "first_answer_s": round(answered, 2)}
            print(f"{name}: port open after {gw.port_open_s:.2f} s, first answer {answered:.2f} s",
                  file=sys.stderr)
        by_name = {gw.name: gw for gw in started}
        urls = {DIRECT: f"{upstream}/chat/completions",
                PASSTHROUGH: f"{by_name[PASSTHROUGH].url}/passthrough",
                OURS: f"{by_name[OURS].url}/v1/chat/completions",
                LITELLM: f"{by_name[LITELLM].url}/v1/chat/completions"}
        pids = {name: gw.proc.pid for name, gw in by_name.items()}
        if simulator.pid is not None:
            pids[DIRECT] = simulator.pid
        figures = await measure(urls, args, pids)
        rss = {}
        for name, gw in by_name.items():
            mem = gateways.tree_rss(gw.proc.pid)
            rss[name] = {"processes": mem.processes, "total_mib": round(mem.total_mib, 1),
                         "largest_mib": round(mem.largest_mib, 1),
                         "per_worker_mib": round(mem.total_mib / args.workers, 1)}
        result: dict[str, Any] = {
            "settings": {"workers": args.workers, "seconds": args.seconds, "concurrency": args.concurrency,
                         "stream_concurrency": args.stream_concurrency, "model": MODEL,
                         "driver": args.driver, "store": args.store,
                         "max_tokens": MAX_TOKENS, "command": report.command_line()},
            "startup": startup, **figures, "rss": rss,
        }
        result["goals"] = report.goals(result)
        result["machine"] = report.machine(versions, loop_s_at_start)
        return result
    finally:
        for gw in reversed(started):
            gateways.stop_gateway(gw)
        simulator.stop()
        tmp.cleanup()
        if scratch is not None:
            await bench_store.admin(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per target and concurrency")
    parser.add_argument("--workers", type=int, default=1, help="worker processes of each gateway")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--stream-concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--driver", choices=("raw", "aiohttp"), default="raw",
                        help="load driver: bench/rawload.py (default) or aiohttp's client")
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite",
                        help="where ours records: a SQLite file (the embedded default) or a scratch "
                             "PostgreSQL database on ROUTER_BENCH_PG_DSN's server")
    parser.add_argument("--output-dir", type=Path, default=RESULTS)
    parser.add_argument("--name", default="compare_litellm", help="file name of the results, no suffix")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    text = report.render(result)
    print(text)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / f"{args.name}.md").write_text(text, encoding="utf-8")
    (args.output_dir / f"{args.name}.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.output_dir / args.name}.md and .json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
