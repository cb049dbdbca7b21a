"""Fault soak: the service (a real `llm-router serve` process) in front of 12 simulated providers failing
at 0-100 %, with one provider going down and coming back, a 429 storm, hangs and resets, PostgreSQL cut
off (through a TCP proxy this script controls; the machine's PostgreSQL is never touched) and restored,
and a SIGTERM mid-run followed by a restart. Then every answered request's records are checked in the
database.

Run: .venv/bin/python bench/soak.py --short   (about a minute; the CI test runs this)
     .venv/bin/python bench/soak.py --seconds 600 --concurrency 32   (for people)
     add --shutdown-flush-s 0 for a data directory that outlives the process (a persistent volume):
     SIGTERM leaves the spool on disk for the restart to replay, instead of replaying it first;
     add --restart overlap to start the new service (--reuse-port) before the SIGTERM to the old one
Options: --json prints the report as JSON; --output FILE writes it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.commands.demo import placeholder_keys  # noqa: E402
from app.config.loader import load_catalog  # noqa: E402
from app.simulation.replay import EXECUTE_PATH, execute_body  # noqa: E402
from app.simulation.workload import generate  # noqa: E402
from app.simulator import SimulatorProcess  # noqa: E402
from app.store.spool import Spool  # noqa: E402
from bench.loadgen import free_port  # noqa: E402
from bench.soak_report import Tally, render, summarize  # noqa: E402
from tests.listening import listens  # noqa: E402
from tests.store import pgdb  # noqa: E402
from tests.store.tcp_proxy import TcpProxy  # noqa: E402

# Error rates from 0 % to 100 % with mixed failure modes; hangs hit the 2 s read timeout. The healthy
# five serve every task of the workload (huggingface, vertex_ai and perplexity are some chains' only
# provider). A chain can still hold only faulty providers while their breakers are closed (at the
# start, and after the restart, which forgets health without Redis): `failed_chains` names them.
BASE_FAULTS: dict[str, dict[str, Any]] = {
    "huggingface": {}, "vertex_ai": {}, "perplexity": {}, "mistral": {}, "openai": {},
    "anthropic": {"error_rate": 0.01, "status": 500},
    "bedrock": {"error_rate": 0.02, "status": 502},
    "azure_openai": {"error_rate": 0.05, "truncate": True},
    "cohere": {"error_rate": 0.10, "reset": True},
    "gemini": {"error_rate": 0.30, "hang": True},
    "deepseek": {"error_rate": 0.50, "status": 500},
    "openrouter": {"error_rate": 1.0, "status": 503},
}
HEALTHY = frozenset(name for name, faults in BASE_FAULTS.items() if not faults)
DOWN_PROVIDER, STORM_PROVIDER = "deepseek", "cohere"


class Service:
    """`llm-router serve` as a child process on a fixed port, restartable. With `reuse_port` every
    process is started with --reuse-port, and a start while one runs leaves that one serving
    (`previous`) until `retire()`: a rolling restart on one host."""

    def __init__(self, port: int, env: dict[str, str], log: Path, *, reuse_port: bool = False) -> None:
        self.port, self.env, self.log, self.reuse_port = port, env, log, reuse_port
        self.proc: subprocess.Popen[bytes] | None = None
        self.previous: subprocess.Popen[bytes] | None = None

    async def start(self) -> float:
        """Spawn and wait until it listens on the port; returns the seconds it took."""
        if self.proc is not None and self.proc.poll() is None:
            assert self.reuse_port, "stop the service before starting it again"
            self.previous = self.proc
        t0 = time.monotonic()
        command = [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port), "--log-level", "info"]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([*command, *(["--reuse-port"] if self.reuse_port else [])],
                                         env=self.env, cwd=ROOT, stdout=log, stderr=log)
        while time.monotonic() - t0 < 30:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the service exited with {self.proc.returncode}; see {self.log}")
            if await self._listening():
                return time.monotonic() - t0
            await asyncio.sleep(0.05)
        raise RuntimeError("the service did not open its port within 30 s")

    async def _listening(self) -> bool:
        assert self.proc is not None
        if self.reuse_port:  # the previous process answers connections too: ask the kernel
            return listens(self.proc.pid, self.port)
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            writer.close()
            return True
        return False

    async def terminate(self) -> int:
        """SIGTERM and wait for the exit code (the service drains and flushes first)."""
        assert self.proc is not None
        return await _terminate(self.proc)

    async def retire(self) -> int:
        """SIGTERM the process a start with `reuse_port` left serving, and wait for its exit."""
        assert self.previous is not None
        proc, self.previous = self.previous, None
        return await _terminate(proc)

    def rss_mib(self) -> float:
        """Resident memory of the process, from /proc (NaN while it is not running)."""
        assert self.proc is not None
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return float("nan")
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")


async def _terminate(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    while proc.poll() is None:
        await asyncio.sleep(0.05)
    return proc.returncode


def soak_catalog(simulator: SimulatorProcess, path: Path) -> Path:
    """The shipped catalog pointed at the simulator, with short timeouts and cooldowns for a bounded run."""
    raw = simulator.catalog(load_catalog()).model_dump(mode="json")
    for spec in raw["providers"].values():
        spec["timeouts"] = {**spec.get("timeouts", {}), "connect_s": 1.0, "read_s": 2.0}
    raw["health"] |= {"cooldown_base_s": 3, "cooldown_max_s": 10}
    raw["retries"] |= {"deadline_s": 10}
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


async def drive(url: str, tally: Tally, *, concurrency: int, stop_at: float, seed: int,
                tenant_tags: bool) -> None:
    """Closed-loop load: `concurrency` clients send the workload's requests back to back."""
    items = [i if tenant_tags else i.model_copy(update={"tenant": None}) for i in generate(2000, seed)]
    bodies = itertools.cycle([execute_body(item, n) for n, item in enumerate(items)])
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async def client() -> None:
            while time.monotonic() < stop_at:
                tally.sent += 1
                t0 = time.perf_counter()
                try:
                    async with session.post(url, json=next(bodies)) as resp:
                        body = await resp.json(content_type=None)
                        status = resp.status
                except (aiohttp.ClientError, TimeoutError, ValueError):
                    tally.unanswered += 1
                    await asyncio.sleep(0.2)  # the service is restarting
                    continue
                tally.latencies_ms.append((time.perf_counter() - t0) * 1000)
                tally.statuses[status] += 1
                details = body.get("error", {}).get("details", {}) if status != 200 else body
                attempts = details.get("attempts", []) if isinstance(details, dict) else []
                tally.attempts.append(attempts)
                decision_id = details.get("decision_id") if isinstance(details, dict) else None
                if decision_id:
                    tally.decisions[decision_id] = len(attempts)

        await asyncio.gather(*(client() for _ in range(concurrency)))


async def sample(base: str, tally: Tally, stop: asyncio.Event, rss: Callable[[], float],
                 spool_dir: Path) -> None:
    """Peak record queue and spool depth from /metrics (absent while the service restarts), peak RSS
    and when it was reached (seconds into the load, the clock of the scenario's events), and the
    spool's peak size on disk."""
    pattern = re.compile(r"^llm_router_(record_queue|spool)_depth(?:\{[^}]*\})? (\S+)$", re.M)
    start = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while not stop.is_set():
            now_mib = rss()
            if now_mib > tally.peaks["rss_mib"]:  # False for NaN (the service restarting)
                tally.peaks["rss_mib"], tally.peaks["rss_peak_at_s"] = now_mib, time.monotonic() - start
            tally.peaks["spool_mib"] = max(tally.peaks["spool_mib"], spool_mib(spool_dir))
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(f"{base}/metrics") as resp:
                    for name, value in pattern.findall(await resp.text()):
                        key = "queue" if name == "record_queue" else "spool"
                        tally.peaks[key] = max(tally.peaks[key], float(value))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)


async def drained(base: str, deadline_s: float) -> float | None:
    """Seconds until the service reports an empty record queue and spool (everything committed),
    or None if that did not happen within `deadline_s`: after an outage the spool replays while
    new records keep coming, so on a slow machine it can take a while."""
    pattern = re.compile(r"^llm_router_(record_queue|spool)_depth(?:\{[^}]*\})? (\S+)$", re.M)
    start = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() - start < deadline_s:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(f"{base}/metrics") as resp:
                    depths = [float(v) for _, v in pattern.findall(await resp.text())]
                if len(depths) >= 2 and not any(depths):
                    return round(time.monotonic() - start, 1)
            await asyncio.sleep(0.25)
    return None


async def scenario(seconds: float, steps: list[tuple[float, str, Callable[[], Awaitable[None]]]],
                   tally: Tally) -> None:
    """Run each step at its fraction of the run."""
    start = time.monotonic()
    for at, name, action in steps:
        await asyncio.sleep(max(0.0, start + at * seconds - time.monotonic()))
        tally.events.append(f"{time.monotonic() - start:6.1f}s {name}")
        await action()


async def stored(url: str) -> tuple[dict[str, int], int, int]:
    """Decision ids with their stored attempt counts, duplicated attempts, decision rows."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"), timeout=5)
    try:
        rows = await conn.fetch("SELECT d.id::text AS id, count(a.id) AS n FROM decisions d "
                                "LEFT JOIN attempts a ON a.decision_id = d.id GROUP BY d.id")
        dupes = await conn.fetchval("SELECT count(*) FROM (SELECT 1 FROM attempts GROUP BY decision_id, "
                                    "attempt_order HAVING count(*) > 1) t")
        total = await conn.fetchval("SELECT count(*) FROM decisions")
    finally:
        await conn.close()
    return {r["id"]: r["n"] for r in rows}, int(dupes), int(total)


def spool_mib(directory: Path) -> float:
    """The spool segments' size on disk."""
    total = 0
    for path in directory.glob("spool-*.jsonl"):
        with contextlib.suppress(FileNotFoundError):  # replayed and removed meanwhile
            total += path.stat().st_size
    return total / (1 << 20)


def spooled(directory: Path) -> int:
    """Records still waiting in spool segments, counted as the service's next start would (from
    each segment's replay mark, decision lists' lines aside); run once the service has stopped."""
    spool = Spool(directory)
    try:
        return spool.claim_orphans()
    finally:
        spool.close()


async def run(seconds: float, concurrency: int, seed: int, log_file: Path | None = None,
              tenant_tags: bool = False, drain_deadline_s: float = 90.0,
              shutdown_flush_s: float | None = None, restart: str = "stop-start") -> dict[str, Any]:
    """Set everything up, run the scenario under load, check the records, tear everything down."""
    name = pgdb.unique_name("router_soak")
    await pgdb.create_database(name)
    tally = Tally()
    try:
        direct = pgdb.sqlalchemy_url(name)
        env_db = {**os.environ, "DATABASE_URL": direct}
        subprocess.run([sys.executable, "-m", "app.cli", "db", "upgrade"], env=env_db, cwd=ROOT,
                       check=True, capture_output=True)
        with tempfile.TemporaryDirectory(prefix="llm-router-soak-") as tmp_name, \
                SimulatorProcess(profile=None, seed=seed) as simulator:
            tmp = Path(tmp_name)
            for provider, settings in BASE_FAULTS.items():
                simulator.configure(provider, **settings)
            catalog = soak_catalog(simulator, tmp / "catalog.yaml")
            async with TcpProxy(pgdb.HOST, pgdb.PORT) as proxy:
                env = {**os.environ, **placeholder_keys(load_catalog(catalog), os.environ),
                       "ROUTER_CONFIG": str(catalog), "ROUTER_DATA_DIR": str(tmp / "data"),
                       "DATABASE_URL": pgdb.sqlalchemy_url(name, port=proxy.port), "PYTHONPATH": str(ROOT)}
                for var in ("REDIS_URL", "ROUTER_MASTER_KEY"):
                    env.pop(var, None)
                if shutdown_flush_s is not None:
                    env["ROUTER_SHUTDOWN_FLUSH_S"] = str(shutdown_flush_s)
                port = free_port()
                log_path = log_file or tmp / "service.log"
                service = Service(port, env, log_path, reuse_port=restart == "overlap")
                open_s = [await service.start()]
                rss = {"start_mib": round(service.rss_mib(), 1)}
                exits: list[int] = []
                exit_s: list[float] = []

                async def configure(provider: str, settings: dict[str, Any]) -> None:
                    await asyncio.to_thread(simulator.configure, provider, **settings)

                async def sigterm_and_restart() -> None:
                    rss["before_sigterm_mib"] = round(service.rss_mib(), 1)
                    if restart == "overlap":  # the new one listens beside the old, then the old goes
                        open_s.append(await service.start())
                        down_at = time.monotonic()
                        exits.append(await service.retire())
                        exit_s.append(time.monotonic() - down_at)
                        return
                    down_at = time.monotonic()
                    exits.append(await service.terminate())
                    exit_s.append(time.monotonic() - down_at)  # drained, flushed (or spooled), exited
                    open_s.append(await service.start())

                async def cut() -> None:
                    proxy.cut()

                async def restore() -> None:
                    proxy.restore()

                down = {"error_rate": 1.0, "status": 500}
                storm = {"error_rate": 1.0, "status": 429, "retry_after": 2}
                steps: list[tuple[float, str, Callable[[], Awaitable[None]]]] = [
                    (0.15, f"{DOWN_PROVIDER} down", lambda: configure(DOWN_PROVIDER, down)),
                    (0.25, f"429 storm on {STORM_PROVIDER}", lambda: configure(STORM_PROVIDER, storm)),
                    (0.35, f"{STORM_PROVIDER} storm over", lambda: configure(STORM_PROVIDER,
                                                                           BASE_FAULTS[STORM_PROVIDER])),
                    (0.40, "database cut", cut),
                    (0.45, f"{DOWN_PROVIDER} back", lambda: configure(DOWN_PROVIDER,
                                                                    BASE_FAULTS[DOWN_PROVIDER])),
                    (0.55, "database restored", restore),
                    (0.70, "SIGTERM and restart", sigterm_and_restart),
                ]
                stop = asyncio.Event()
                base = f"http://127.0.0.1:{port}"
                sampler = asyncio.create_task(sample(base, tally, stop, service.rss_mib,
                                                     tmp / "data" / "spool"))
                await asyncio.gather(
                    drive(base + EXECUTE_PATH, tally, concurrency=concurrency,
                          stop_at=time.monotonic() + seconds, seed=seed, tenant_tags=tenant_tags),
                    scenario(seconds, steps, tally))
                drain_s = await drained(base, drain_deadline_s)  # the spool replayed, the queue empty
                rss["end_mib"] = round(service.rss_mib(), 1)
                stop.set()
                await sampler
                rss["peak_mib"] = round(tally.peaks["rss_mib"], 1)
                rss["peak_at_s"] = round(tally.peaks["rss_peak_at_s"], 1)
                exits.append(await service.terminate())
            spool_left = spooled(tmp / "data" / "spool")
            records = await stored(direct)
            log = log_path.read_text(errors="replace")
        extra = {"seconds": seconds, "concurrency": concurrency, "exit_codes": exits, "drain_s": drain_s,
                 "port_open_s": [round(s, 2) for s in open_s],
                 "sigterm_to_exit_s": [round(s, 2) for s in exit_s], "rss": rss,
                 "shutdown_flush_s": env.get("ROUTER_SHUTDOWN_FLUSH_S", "default"), "restart": restart}
        return summarize(tally, records, spool_left, log, extra | {"tenant_tags": tenant_tags},
                         HEALTHY)
    finally:
        await pgdb.drop_database(name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="40 s of load (CI)")
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--output", default=None)
    parser.add_argument("--tenant-tags", action="store_true",
                        help="send the workload's tenant tags (a tenant cache miss reads the database)")
    parser.add_argument("--log", default=None, help="keep the service's log in this file")
    parser.add_argument("--drain", type=float, default=90.0,
                        help="seconds to wait after the load for the queue and spool to empty")
    parser.add_argument("--shutdown-flush-s", type=float, default=None,
                        help="the service's ROUTER_SHUTDOWN_FLUSH_S (default: the service's, 10 s); 0 "
                             "models a data directory that outlives the process: at SIGTERM what the "
                             "database has not taken stays in the spool for the restart to replay")
    parser.add_argument("--restart", choices=("stop-start", "overlap"), default="stop-start",
                        help="stop-start: SIGTERM, wait for the exit, start again (the port is closed "
                             "meanwhile); overlap: start a new service with --reuse-port beside the old "
                             "one, then SIGTERM the old one (a rolling restart on one host)")
    args = parser.parse_args()
    seconds = 40.0 if args.short else args.seconds
    report = asyncio.run(run(seconds, args.concurrency, args.seed, Path(args.log) if args.log else None,
                             tenant_tags=args.tenant_tags, drain_deadline_s=args.drain,
                             shutdown_flush_s=args.shutdown_flush_s, restart=args.restart))
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
