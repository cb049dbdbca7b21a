"""OpenAI API speed: POST /v1/chat/completions (model "auto", budget low: deepseek first) in front
of the provider simulator, against the simulator's own chat completions endpoint called directly,
non-streamed and streamed, in one run.

Run: .venv/bin/python bench/bench_openai.py [--seconds 5] [--concurrency 1 16]
Prints requests per second, p50/p99 latency and the latency the router adds (its figure minus the
simulator's, same run); for streams also the time to the first content chunk (TTFT) and what the
router adds to it. Targets run in interleaved one-second slices so load spikes hit them alike.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.commands.demo import placeholder_keys, write_catalog
from app.config.loader import load_catalog
from app.simulator import SimulatorProcess
from bench.loadgen import free_port, start_uvicorn, stop

MESSAGES = [{"role": "user", "content": "In one sentence: what does a circuit breaker do?"}]
DIRECT = {"model": "deepseek-chat", "messages": MESSAGES, "max_tokens": 64}
ROUTED = {"model": "auto", "budget": "low", "messages": MESSAGES, "max_tokens": 64}


@dataclass
class Sample:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    ttft_ms: list[float] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def add(self, other: Sample) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.seconds += other.seconds
        self.latencies_ms += other.latencies_ms
        self.ttft_ms += other.ttft_ms


def pct(data: list[float], q: float) -> float:
    if not data:
        return float("nan")
    ordered = sorted(data)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def first_content(line: bytes) -> bool:
    """Whether an SSE line is a chunk with a non-empty content delta."""
    if not line.startswith(b"data: {"):
        return False
    choices = orjson.loads(line[6:]).get("choices") or [{}]
    return bool((choices[0].get("delta") or {}).get("content"))


async def one(session: aiohttp.ClientSession, url: str, body: dict[str, Any],
              stream: bool) -> tuple[bool, float, float | None]:
    t0 = time.perf_counter()
    ttft = None
    async with session.post(url, json={**body, "stream": stream}) as resp:
        if stream:
            async for line in resp.content:
                if ttft is None and first_content(line):
                    ttft = (time.perf_counter() - t0) * 1000
        else:
            await resp.read()
        ok = resp.status < 400 and (not stream or ttft is not None)
    return ok, (time.perf_counter() - t0) * 1000, ttft


async def drive(url: str, body: dict[str, Any], *, stream: bool, concurrency: int, seconds: float) -> Sample:
    """Closed loop: `concurrency` workers back to back for `seconds`, after a short warm-up."""
    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    headers = {"authorization": "Bearer bench-key"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        await asyncio.gather(*(one(session, url, body, stream) for _ in range(concurrency)))
        sample = Sample()
        stop_at = time.monotonic() + seconds

        async def worker() -> None:
            while time.monotonic() < stop_at:
                ok, ms, ttft = await one(session, url, body, stream)
                sample.requests += 1
                sample.errors += 0 if ok else 1
                sample.latencies_ms.append(ms)
                if ttft is not None:
                    sample.ttft_ms.append(ttft)

        t0 = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        sample.seconds = time.monotonic() - t0
        return sample


def row(name: str, c: int, s: Sample, direct: Sample, stream: bool) -> str:
    out = (f"{name:<26}{c:>4}{s.rps:>9.0f}{pct(s.latencies_ms, .5):>9.2f}{pct(s.latencies_ms, .99):>9.2f}"
           f"{pct(s.latencies_ms, .5) - pct(direct.latencies_ms, .5):>+9.2f}"
           f"{pct(s.latencies_ms, .99) - pct(direct.latencies_ms, .99):>+9.2f}")
    if stream:
        out += (f"{pct(s.ttft_ms, .5):>10.2f}{pct(s.ttft_ms, .99):>10.2f}"
                f"{pct(s.ttft_ms, .5) - pct(direct.ttft_ms, .5):>+10.2f}"
                f"{pct(s.ttft_ms, .99) - pct(direct.ttft_ms, .99):>+10.2f}")
    return out + f"{s.errors:>8}"


async def check_routing(url: str) -> str:
    """The provider that answers the routed body (the comparison assumes it is deepseek)."""
    async with aiohttp.ClientSession() as session, session.post(url, json=ROUTED) as resp:
        return resp.headers.get("x-router-provider", f"HTTP {resp.status}")


async def run(args: argparse.Namespace) -> int:
    simulator = SimulatorProcess(log_level="warning").start()
    tmp = tempfile.TemporaryDirectory(prefix="bench-openai-")
    proc = None
    try:
        catalog = simulator.catalog(load_catalog())
        path = write_catalog(catalog, Path(tmp.name) / "catalog.yaml")
        port = free_port()
        env = {**placeholder_keys(catalog, os.environ), "ROUTER_CONFIG": str(path),
               "DATABASE_URL": f"sqlite+aiosqlite:///{tmp.name}/router.db", "ROUTER_DATA_DIR": tmp.name,
               "ROUTER_LOG_LEVEL": "WARNING"}
        proc = start_uvicorn("app.main:create_app", port, env)
        upstream = str(catalog.providers["deepseek"].base_url).rstrip("/") + "/chat/completions"
        routed = f"http://127.0.0.1:{port}/v1/chat/completions"
        answered = await check_routing(routed)
        if answered != "deepseek":
            print(f"the routed body was answered by {answered}, not deepseek: figures not comparable")
            return 1
        targets = {"simulator (direct)": (upstream, DIRECT), "router /v1/chat/completions": (routed, ROUTED)}
        for stream in (False, True):
            print(f"\n{'streamed' if stream else 'non-streamed'}")
            head = f"{'target':<26}{'c':>4}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'+p50':>9}{'+p99':>9}"
            if stream:
                head += f"{'ttft p50':>10}{'ttft p99':>10}{'+ttft p50':>10}{'+ttft p99':>10}"
            print(head + f"{'errors':>8}")
            for c in args.concurrency:
                results = {name: Sample() for name in targets}
                for _ in range(max(1, round(args.seconds))):
                    for name, (url, body) in targets.items():
                        results[name].add(await drive(url, body, stream=stream, concurrency=c, seconds=1.0))
                direct = results["simulator (direct)"]
                for name, result in results.items():
                    print(row(name, c, result, direct, stream))
                ratio = results["router /v1/chat/completions"].rps / direct.rps
                print(f"{'':<26}{c:>4}  router / simulator = {ratio:.0%}")
        return 0
    finally:
        if proc is not None:
            stop(proc)
        simulator.stop()
        tmp.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
