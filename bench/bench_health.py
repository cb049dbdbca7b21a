"""Health on the request path: what a snapshot and an observation cost, in-process and with the
state shared through Redis, against reading Redis on every request; and how fast an ejection
one replica makes reaches another.

Run: .venv/bin/python bench/bench_health.py [--requests 20000] [--trials 200]
Starts its own redis-server on a free loopback port (Debian package redis-server).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config.enums import CircuitState
from app.config.loader import load_catalog
from app.health.redis_state import RedisHealthState
from app.health.replication import RedisReplicator, redis_clients
from app.health.tracker import HealthTracker
from app.health.window import BUCKETS_PER_WINDOW
from app.records import AttemptRecord, Outcome

PROVIDERS = ["deepseek", "openrouter", "mistral", "gemini", "cohere"]


def attempt(provider: str, ok: bool) -> AttemptRecord:
    return AttemptRecord(id="a", decision_id="d", attempt_order=0, provider=provider, model="m",
                         outcome=Outcome.SUCCESS if ok else Outcome.ERROR, task_type="chat",
                         latency_ms=120.0, status_code=None if ok else 500,
                         error_class=None if ok else "server_error")


def start_redis(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.02)
    raise SystemExit("redis-server did not start")


async def request_path(tracker: HealthTracker, n: int) -> tuple[float, float]:
    """Per simulated request: one snapshot, one observed attempt (1 % failures). Returns the
    mean cost in microseconds of snapshot() and of observe()."""
    snap = obs = 0.0
    for i in range(n):
        t0 = time.perf_counter()
        tracker.snapshot()
        t1 = time.perf_counter()
        tracker.observe(attempt(PROVIDERS[i % len(PROVIDERS)], ok=i % 100 != 0))
        t2 = time.perf_counter()
        snap += t1 - t0
        obs += t2 - t1
        if i % 64 == 0:
            await asyncio.sleep(0)  # let the replicator's writer run, as it would between requests
    return snap / n * 1e6, obs / n * 1e6


class TravelClock:
    """Real time plus an offset the bench moves forward to end a trial's cooldown at once."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


CLOCK = TravelClock()


def replica(url: str, prefix: str) -> tuple[HealthTracker, RedisReplicator, list[object]]:
    catalog = load_catalog()
    tracker = HealthTracker(catalog, clock=CLOCK)
    commands, listener = redis_clients(url)
    window = catalog.health.window_seconds
    state = RedisHealthState(commands, prefix=prefix, window_s=window, bucket_s=window / BUCKETS_PER_WINDOW)
    return tracker, RedisReplicator(tracker, state, listener), [commands, listener]


async def direct_read_us(state: RedisHealthState, providers: list[str], n: int) -> float:
    """The alternative: one pipelined round trip reading every provider on each request."""
    await state.read_all(providers, time.time())
    t0 = time.perf_counter()
    for _ in range(n):
        await state.read_all(providers, time.time())
    return (time.perf_counter() - t0) / n * 1e6


async def propagation_ms(a: HealthTracker, b: HealthTracker, trials: int) -> list[float]:
    """From A's third failure (A enforces at once) until B's snapshot shows the provider open."""
    out = []
    providers = [p for p in a.providers if p not in PROVIDERS]
    for i in range(trials):
        provider = providers[i % len(providers)]
        assert b.snapshot()[provider].state is CircuitState.CLOSED
        t0 = time.perf_counter()
        for _ in range(3):
            a.observe(attempt(provider, ok=False))
        assert a.snapshot()[provider].state is CircuitState.OPEN
        while b.snapshot()[provider].state is not CircuitState.OPEN:
            await asyncio.sleep(0)
        out.append((time.perf_counter() - t0) * 1000)
        await reset(a, b, provider)
    return out


async def reset(a: HealthTracker, b: HealthTracker, provider: str) -> None:
    """End the trial's ejection: a successful probe after the cooldown, seen by both replicas."""
    CLOCK.offset += 400  # past any cooldown, for both replicas
    assert await a.admit(provider)
    a.observe(attempt(provider, ok=True))
    while b.entry(provider).breaker.ejections or a.entry(provider).pending:
        await asyncio.sleep(0)


async def main(args: argparse.Namespace) -> None:
    logging.getLogger("app").setLevel(logging.ERROR)  # every trial ejects a provider: not news
    catalog = load_catalog()
    local = HealthTracker(catalog)
    snap_local, obs_local = await request_path(local, args.requests)
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_redis(Path(tmp))
        try:
            prefix = f"bench:{uuid.uuid4().hex}:"
            a, rep_a, clients_a = replica(url, prefix)
            b, rep_b, clients_b = replica(url, prefix)
            await rep_a.start()
            await rep_b.start()
            snap_shared, obs_shared = await request_path(a, args.requests)
            direct = await direct_read_us(rep_a.state, a.providers, max(args.requests // 10, 500))
            delays = sorted(await propagation_ms(a, b, args.trials))
            await rep_a.stop()
            await rep_b.stop()
            for client in [*clients_a, *clients_b]:
                await client.aclose()  # type: ignore[attr-defined]
        finally:
            proc.terminate()
            proc.wait()
    overhead = (snap_shared + obs_shared) - (snap_local + obs_local)
    print(f"request path, {args.requests} requests (1 snapshot + 1 observed attempt each), 12 providers")
    print(f"  in-process      snapshot {snap_local:7.2f} us   observe {obs_local:7.2f} us")
    print(f"  Redis-shared    snapshot {snap_shared:7.2f} us   observe {obs_shared:7.2f} us "
          f"(local mirror; writes batched off the request path)")
    print(f"  Redis overhead per request: {overhead:+.2f} us "
          f"({(snap_shared + obs_shared) / (snap_local + obs_local):.2f}x the in-process cost)")
    print(f"  reading Redis on every request instead (one pipelined round trip, 12 providers): "
          f"{direct:7.1f} us = {direct / max(snap_shared, 1e-9):.0f}x the mirror's snapshot")
    q = statistics.quantiles(delays, n=100)
    print(f"ejection seen by the other replica (pub/sub), {len(delays)} trials: "
          f"p50 {statistics.median(delays):.2f} ms, p99 {q[98]:.2f} ms, max {delays[-1]:.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--trials", type=int, default=200)
    asyncio.run(main(parser.parse_args()))
