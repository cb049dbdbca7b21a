"""A small closed-loop HTTP load generator and a uvicorn launcher shared by the benchmarks."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_uvicorn(target: str, port: int, env: dict[str, str] | None = None,
                  extra: Sequence[str] = ()) -> subprocess.Popen[bytes]:
    """Start `uvicorn target --factory` on 127.0.0.1:port and wait until it answers /health."""
    cmd = [sys.executable, "-m", "uvicorn", target, "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning", "--no-access-log", *extra]
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{target} did not start on port {port}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(q * len(data)))]


async def drive(url: str, body: dict[str, Any] | None, *, concurrency: int, seconds: float,
                warmup_s: float = 1.0, method: str = "POST",
                headers: dict[str, str] | None = None) -> LoadResult:
    """Closed loop: `concurrency` workers send requests back to back for `seconds`.

    Each response body is read whole (a stream included); a status of 400 or more is an error.
    """
    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        async def one() -> tuple[bool, float]:
            t0 = time.perf_counter()
            async with session.request(method, url, json=body) as resp:
                await resp.read()
                ok = resp.status < 400
            return ok, (time.perf_counter() - t0) * 1000

        end_warm = time.monotonic() + warmup_s
        while time.monotonic() < end_warm:
            await asyncio.gather(*(one() for _ in range(concurrency)))
        latencies: list[float] = []
        errors = 0
        stop_at = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < stop_at:
                ok, ms = await one()
                latencies.append(ms)
                errors += 0 if ok else 1

        t0 = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return LoadResult(len(latencies), errors, time.monotonic() - t0, latencies)
