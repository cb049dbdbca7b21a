"""Routing speed: engine decisions in-process (shipped and 1,000-model catalogs) and /route over HTTP.

Run: .venv/bin/python bench/bench_routing.py [--seconds 5] [--concurrency 32]
Goals (issue 2): p50 < 50 us on the shipped catalog, < 2 ms on 1,000 models; /route keeps
>= 70 % of a bare FastAPI endpoint's requests per second, measured in the same run.
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


async def http_bench(seconds: float, concurrency: int) -> None:
    print(f"== HTTP, 1 uvicorn worker each, closed loop at concurrency {concurrency}, {seconds:.0f} s")
    body = {"task_type": "chat", "budget": "low", "context_size": 2000}
    with tempfile.TemporaryDirectory() as tmp:
        env = {key: "placeholder" for key in (
            "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "MISTRAL_API_KEY", "DEEPSEEK_API_KEY",
            "GEMINI_API_KEY", "COHERE_API_KEY", "VERTEX_AI_ACCESS_TOKEN", "AZURE_OPENAI_API_KEY",
            "AWS_ACCESS_KEY_ID", "OPENROUTER_API_KEY", "PERPLEXITY_API_KEY", "HF_TOKEN")}
        env.update({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db", "ROUTER_DATA_DIR": tmp,
                    "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
        results = {}
        for label, target, path in (("bare FastAPI, fixed JSON", "bench.bare_app:create_bare_app", "/route"),
                                    ("/api/brain/ai-assistant/route", "app.main:create_app",
                                     "/api/brain/ai-assistant/route")):
            port = free_port()
            proc = start_uvicorn(target, port, env=env)
            try:
                res = await drive(f"http://127.0.0.1:{port}{path}", body,
                                  concurrency=concurrency, seconds=seconds)
            finally:
                stop(proc)
            results[label] = res
            print(f"{label:<44} {res.rps:>10,.0f} req/s   p50 {res.pct(0.5):6.2f} ms   "
                  f"p99 {res.pct(0.99):6.2f} ms   errors {res.errors}")
        bare, ours = results.values()
        print(f"/route throughput = {ours.rps / bare.rps:.1%} of the bare endpoint (goal >= 70 %)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    engine_bench(args.decisions)
    if not args.skip_http:
        asyncio.run(http_bench(args.seconds, args.concurrency))


if __name__ == "__main__":
    main()
