"""Replay a workload through the service's POST /execute in front of the provider simulator.

The simulator runs as a child process with the fault profile (so its work does not share our event
loop); the service runs in this process (its lifespan, middleware and store, over httpx's ASGI
transport), with every base URL pointed at the simulator and placeholder keys, like `llm-router demo`.
Costs are priced at the workload's token counts with the model that answered, so a replay and a dry
run of the same workload compare; the baseline is the catalog's baseline at the same tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

from app.commands.demo import placeholder_keys, write_catalog
from app.config.catalog import Catalog
from app.config.settings import Settings
from app.simulation.report import FAILED, REJECTED, SUCCEEDED, Attempt, RequestResult
from app.simulation.workload import WorkloadItem
from app.simulator import SimulatorProcess

EXECUTE_PATH = "/api/brain/ai-assistant/execute"
# Above the catalog's 60 s request deadline: the service answers first, whatever the faults.
REQUEST_TIMEOUT_S = 300.0


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the block and restore the previous values after it."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def price_table(catalog: Catalog) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    """(provider, model) -> (input, output) USD per million tokens."""
    return {(name, m.name): (m.input_price, m.output_price)
            for name, spec in catalog.providers.items() for m in spec.models}


def execute_body(item: WorkloadItem, number: int) -> dict[str, Any]:
    """The POST /execute body for one item: its constraints, a short prompt, its output tokens."""
    body: dict[str, Any] = {
        "task_type": item.task.value, "budget": item.budget.value, "region": item.region.value,
        "context_size": item.context_tokens, "requires_sla": item.requires_sla,
        "requires_compliance": item.requires_compliance, "max_tokens": item.output_tokens,
        "prompt": f"Workload request {number}: a {item.task.value} task.",
    }
    if item.tenant is not None:
        body["tenant"] = item.tenant
    return body


def classify(item: WorkloadItem, status: int, payload: dict[str, Any], latency_ms: float, *,
             prices: Mapping[tuple[str, str], tuple[Decimal, Decimal]],
             baseline: tuple[Decimal, Decimal]) -> RequestResult:
    """One answer of /execute as a RequestResult (a 422 no_eligible_provider is `rejected`)."""
    tokens_in, tokens_out = item.context_tokens, item.output_tokens
    base = float((tokens_in * baseline[0] + tokens_out * baseline[1]) / 1_000_000)
    if status == 200:
        price_in, price_out = prices[(payload["provider"], payload["model"])]
        return RequestResult(
            budget=item.budget.value, status=SUCCEEDED, provider=payload["provider"],
            cost_usd=float((tokens_in * price_in + tokens_out * price_out) / 1_000_000),
            baseline_cost_usd=base, latency_ms=latency_ms,
            attempts=[Attempt(a["provider"], a["outcome"]) for a in payload["attempts"]],
        )
    error = payload.get("error", {}) if isinstance(payload, dict) else {}
    if error.get("code") == "no_eligible_provider":
        return RequestResult(budget=item.budget.value, status=REJECTED, latency_ms=latency_ms)
    attempts = error.get("details", {}).get("attempts", []) if isinstance(error.get("details"), dict) else []
    return RequestResult(budget=item.budget.value, status=FAILED, latency_ms=latency_ms,
                         attempts=[Attempt(a["provider"], a["outcome"]) for a in attempts])


async def _drive(app: Any, items: Sequence[WorkloadItem], *, concurrency: int, pace: bool, progress: bool,
                 catalog: Catalog) -> tuple[list[RequestResult], dict[str, int]]:
    prices = price_table(catalog)
    baseline = (catalog.baseline.input_price, catalog.baseline.output_price)
    results: list[RequestResult | None] = [None] * len(items)
    statuses: dict[str, int] = {}
    gate = asyncio.Semaphore(concurrency)
    bar = tqdm(total=len(items), unit="req", file=sys.stderr, disable=not progress, desc="replay")
    transport = httpx.ASGITransport(app=app)
    started = time.monotonic()
    async with httpx.AsyncClient(transport=transport, base_url="http://replay",
                                 timeout=REQUEST_TIMEOUT_S) as client:
        async def one(number: int, item: WorkloadItem) -> None:
            if pace and item.arrival_s is not None:
                await asyncio.sleep(max(0.0, started + item.arrival_s - time.monotonic()))
            async with gate:
                t0 = time.perf_counter()
                response = await client.post(EXECUTE_PATH, json=execute_body(item, number))
                latency_ms = (time.perf_counter() - t0) * 1000
            key = str(response.status_code)
            statuses[key] = statuses.get(key, 0) + 1
            results[number] = classify(item, response.status_code, response.json(), latency_ms,
                                       prices=prices, baseline=baseline)
            bar.update()

        try:
            await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))
        finally:
            bar.close()
    return [r for r in results if r is not None], statuses


async def replay(items: Sequence[WorkloadItem], catalog: Catalog, *,
                 profile: str | Path | Mapping[str, Any] | None = None,
                 concurrency: int = 16, seed: int = 0, pace: bool = False, progress: bool = True,
                 database_url: str | None = None) -> tuple[list[RequestResult], dict[str, Any]]:
    """Run every item through /execute; returns the results and run facts (HTTP statuses, simulator stats)."""
    with tempfile.TemporaryDirectory(prefix="llm-router-replay-") as tmp:
        profile_file: Path | None
        if profile is not None and not isinstance(profile, str | Path):
            profile_file = Path(tmp) / "faults.json"  # the child process reads a file
            profile_file.write_text(json.dumps(dict(profile)), encoding="utf-8")
        else:
            profile_file = Path(profile) if profile is not None else None
        results, statuses, elapsed, stats = await _serve(
            items, catalog, Path(tmp), profile=profile_file, concurrency=concurrency, seed=seed,
            pace=pace, progress=progress, database_url=database_url)
    facts = {"http_statuses": dict(sorted(statuses.items())), "seconds": round(elapsed, 3),
             "concurrency": concurrency, "fault_profile": str(profile) if profile else None,
             "simulator": stats.get("providers", {})}
    return results, facts


async def _serve(items: Sequence[WorkloadItem], catalog: Catalog, tmp: Path, *, profile: Path | None,
                 concurrency: int, seed: int, pace: bool, progress: bool, database_url: str | None,
                 ) -> tuple[list[RequestResult], dict[str, int], float, dict[str, Any]]:
    from app.main import create_app

    with SimulatorProcess(profile=profile, seed=seed) as simulator:
        simulated = simulator.catalog(catalog)
        path = write_catalog(simulated, tmp / "catalog.yaml")
        with environment(placeholder_keys(simulated, os.environ)):
            settings = Settings.model_validate({
                "router_config": path, "redis_url": None, "router_master_key": None,
                "database_url": database_url or f"sqlite+aiosqlite:///{tmp}/replay.db",
                "ROUTER_DATA_DIR": tmp,
            })
            app = create_app(settings)
            t0 = time.monotonic()
            async with app.router.lifespan_context(app):
                results, statuses = await _drive(app, items, concurrency=concurrency, pace=pace,
                                                 progress=progress, catalog=simulated)
            elapsed = time.monotonic() - t0
        return results, statuses, elapsed, simulator.stats()
