"""Routing speed: engine decisions in-process (shipped and 1,000-model catalogs) and /route over HTTP.

Run: .venv/bin/python bench/bench_routing.py [--seconds 8] [--slices 8] [--concurrency 32]
Goals (issue 2): p50 < 50 us on the shipped catalog, < 2 ms on 1,000 models; /route keeps
>= 70 % of a bare FastAPI endpoint's requests per second, measured in the same run.

Over HTTP both services (one uvicorn worker each; /route recording its decisions to SQLite)
run at once and an aiohttp load generator alternates between them in short slices, so a busy
machine slows both alike. Each service's CPU time per request is printed too: the load
generator needs a core of its own, so the bare endpoint's throughput is often the client's;
the CPU ratio is what a run whose servers are the bottleneck would show.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.config.catalog import Catalog
from app.config.enums import BudgetTier, Protocol, Region, TaskType
from app.config.loader import load_catalog
from app.errors import NoEligibleProvider
from app.routing.engine import decide
from app.routing.index import CatalogIndex
from bench.loadgen import drive, free_port, start_uvicorn, stop


def generated_catalog(models: int, seed: int = 7) -> Catalog:
    """The shipped catalog's rules with `models` random models spread over 12 providers."""
    base = load_catalog()
    rng = random.Random(seed)
    data = base.model_dump(mode="python")
    names = list(data["providers"])
    tasks = list(TaskType)
    per = models // len(names)
    for i, pname in enumerate(names):
        entries = []
        for j in range(per + (1 if i < models % len(names) else 0)):
            caps = rng.sample(tasks, rng.randint(1, len(tasks)))
            entries.append({
                "name": f"gen-{pname}-{j}",
                "input_price": Decimal(str(round(rng.uniform(0, 20), 3))),
                "output_price": Decimal(str(round(rng.uniform(0, 60), 3))),
                "prices_checked": dt.date(2025, 10, 6),
                "context_window": rng.choice([8192, 32768, 128000, 200000, 1048576]),
                "capabilities": caps,
                "quality": {t: round(rng.uniform(5, 9.8), 1) for t in caps},
            })
        data["providers"][pname]["models"] = entries
        data["providers"][pname]["protocol"] = Protocol(data["providers"][pname]["protocol"])
    data["baseline"]["model"] = data["providers"][data["baseline"]["provider"]]["models"][0]["name"]
    return Catalog.model_validate(data)


def random_requests(n: int, seed: int = 1) -> list[dict[str, object]]:
    rng = random.Random(seed)
    return [{
        "task_type": rng.choice(list(TaskType)),
        "budget": rng.choice([BudgetTier.LOW, BudgetTier.MEDIUM, BudgetTier.HIGH, BudgetTier.UNLIMITED]),
        "input_tokens": int(rng.lognormvariate(7.5, 1.5)) % 900_000,
        "region": rng.choice([Region.GLOBAL, Region.GLOBAL, Region.EU, Region.US]),
        "requires_sla": rng.random() < 0.1,
        "requires_compliance": rng.random() < 0.2,
    } for _ in range(n)]


def time_decisions(index: CatalogIndex, requests: list[dict[str, object]], cold: bool) -> list[float]:
    """Microseconds per decision; `cold` clears the memo first, so every decision filters afresh."""
    out = []
    for req in requests:
        if cold:
            index._static.clear()
        t0 = time.perf_counter_ns()
        with contextlib.suppress(NoEligibleProvider):
            decide(index, **req)  # type: ignore[arg-type]
        out.append((time.perf_counter_ns() - t0) / 1000)
    return out


def summary(label: str, us: list[float]) -> str:
    us_sorted = sorted(us)
    p50 = statistics.median(us_sorted)
    p99 = us_sorted[int(0.99 * (len(us_sorted) - 1))]
    rate = len(us) / (sum(us) / 1e6)
    return f"{label:<44} {rate:>12,.0f}/s   p50 {p50:>9.1f} us   p99 {p99:>9.1f} us"


def engine_bench(n: int) -> None:
    print(f"== engine, in-process ({n} random requests each)")
    shipped = CatalogIndex(load_catalog())
    big = CatalogIndex(generated_catalog(1000))
    reqs = random_requests(n)
    for label, index in (("shipped catalog", shipped), ("generated catalog, 1,000 models", big)):
        print(f"   ({label}: {len(index.candidates)} model deployments)")
        time_decisions(index, reqs[: n // 10], cold=False)
        print(summary(f"{label}, warm memo", time_decisions(index, reqs, cold=False)))
        print(summary(f"{label}, cold (no memo)", time_decisions(index, reqs[: n // 5], cold=True)))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """cpu_seconds of a process and of its living descendants (a service's writer process)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            total += cpu_seconds(current)
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue  # it ended meanwhile
    return total


@dataclass
class Served:
    """What one service did over all its slices."""

    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    cpu_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    slice_rps: list[float] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_us(self) -> float:
        return 1e6 * self.cpu_s / self.requests if self.requests else float("nan")

    def pct(self, q: float) -> float:
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(q * len(data)))] if data else float("nan")


async def http_bench(seconds: float, concurrency: int, slices: int) -> None:
    """Both services run at once and the load alternates between them in short slices, so a busy
    shared machine slows both alike; each service's CPU time per request is measured too."""
    slice_s = seconds / slices
    print(f"== HTTP, 1 uvicorn worker each, closed loop at concurrency {concurrency}, {seconds:.0f} s each "
          f"in {slices} alternating slices of {slice_s:.1f} s, load average {os.getloadavg()[0]:.1f}")
    body = {"task_type": "chat", "budget": "low", "context_size": 2000}
    targets = {"bare FastAPI, fixed JSON": ("bench.bare_app:create_bare_app", "/route"),
               "/api/brain/ai-assistant/route": ("app.main:create_app", "/api/brain/ai-assistant/route")}
    with tempfile.TemporaryDirectory() as tmp:
        env = {key: "placeholder" for key in (
            "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "MISTRAL_API_KEY", "DEEPSEEK_API_KEY",
            "GEMINI_API_KEY", "COHERE_API_KEY", "VERTEX_AI_ACCESS_TOKEN", "AZURE_OPENAI_API_KEY",
            "AWS_ACCESS_KEY_ID", "OPENROUTER_API_KEY", "PERPLEXITY_API_KEY", "HF_TOKEN")}
        # Probes would call the real provider APIs with placeholder keys: nothing leaves the machine.
        env.update({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db", "ROUTER_DATA_DIR": tmp,
                    "ROUTER_HEALTH_PROBES": "false",
                    "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
        procs = {}
        try:
            for label, (target, path) in targets.items():
                port = free_port()
                procs[label] = (start_uvicorn(target, port, env=env), f"http://127.0.0.1:{port}{path}")
            for _proc, url in procs.values():  # warm both (imports, memo, connections)
                await drive(url, body, concurrency=concurrency, seconds=1.0, warmup_s=0.0)
            results = {label: Served() for label in targets}
            for n in range(slices):
                for label in (list(targets) if n % 2 == 0 else list(reversed(targets))):
                    proc, url = procs[label]
                    cpu0 = tree_cpu_seconds(proc.pid)
                    res = await drive(url, body, concurrency=concurrency, seconds=slice_s, warmup_s=0.0)
                    served = results[label]
                    served.cpu_s += tree_cpu_seconds(proc.pid) - cpu0
                    served.requests += res.requests
                    served.errors += res.errors
                    served.seconds += res.seconds
                    served.latencies_ms += res.latencies_ms
                    served.slice_rps.append(res.rps)
        finally:
            for proc, _ in procs.values():
                stop(proc)
    for label, served in results.items():
        print(f"{label:<44} {served.rps:>10,.0f} req/s   p50 {served.pct(0.5):6.2f} ms   "
              f"p99 {served.pct(0.99):6.2f} ms   "
              f"server CPU {served.cpu_us:5.0f} us/req   errors {served.errors}")
    bare, ours = results.values()
    paired = statistics.median(o / b for o, b in zip(ours.slice_rps, bare.slice_rps, strict=True))
    print(f"/route throughput = {ours.rps / bare.rps:.1%} of the bare endpoint (median of paired slices "
          f"{paired:.1%}; goal >= 70 %)")
    print(f"bare endpoint's server CPU per request = {bare.cpu_us / ours.cpu_us:.1%} of /route's "
          "(the throughput ratio a server-bound run would show; the load generator shares the cores)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=8.0, help="measured time per service")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--slices", type=int, default=8, help="alternating slices per service")
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    engine_bench(args.decisions)
    if not args.skip_http:
        asyncio.run(http_bench(args.seconds, args.concurrency, args.slices))


if __name__ == "__main__":
    main()
