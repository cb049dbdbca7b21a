"""The service over real HTTP in front of the provider simulator, for end-to-end checks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.commands.demo import EXTRA_PLACEHOLDERS, write_catalog
from app.config.catalog import Catalog
from app.config.settings import Settings
from app.simulator import SimulatorServer
from tests.execution.service import ServiceThread

API = "/api/brain/ai-assistant"
CHAT_LOW = {
    "task_type": "chat",
    "budget": "low",
    "messages": [{"role": "user", "content": "Name three uses of a circuit breaker."}],
}


@contextmanager
def running_service(
    db_url: str, tmp_path: Path, simulator: SimulatorServer, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ServiceThread]:
    """The service on a free loopback port, on `db_url`, calling the simulator for every provider."""
    simulator.reset()
    for var, value in EXTRA_PLACEHOLDERS.items():
        monkeypatch.setenv(var, value)
    path = write_catalog(simulator.catalog(catalog), tmp_path / "catalog.yaml")
    settings = Settings(router_config=path, database_url=db_url, ROUTER_DATA_DIR=tmp_path / "data")
    with ServiceThread(settings) as service:
        yield service


def execute_some(service: ServiceThread, simulator: SimulatorServer, n: int) -> list[dict[str, Any]]:
    """n chat requests with the primary failing every call (500), so each falls back once."""
    chain = httpx.post(service.url + API + "/route", json=CHAT_LOW).json()["chain"]
    simulator.configure(chain[0]["provider"], error_rate=1.0, status=500)
    out = []
    for _ in range(n):
        r = httpx.post(service.url + API + "/execute", json=CHAT_LOW, timeout=30)
        assert r.status_code == 200, r.text
        out.append(r.json())
    return out


def wait_for_records(service: ServiceThread, requests: int, deadline_s: float = 10) -> dict[str, Any]:
    """The cost analysis once the write-behind writer has stored `requests` requests."""
    end = time.monotonic() + deadline_s
    while True:
        costs: dict[str, Any] = httpx.get(service.url + API + "/analytics/costs").json()
        if costs["requests"] >= requests or time.monotonic() > end:
            return costs
        time.sleep(0.1)
