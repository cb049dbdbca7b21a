"""The provider simulator and service processes in front of it, for the health tests over HTTP."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import httpx

from app.commands.demo import placeholder_keys, write_catalog
from app.config.loader import load_catalog
from app.simulator import SimulatorProcess
from tests.health.tools import free_port, start_service, stop

API = "/api/brain/ai-assistant"
CHAT_LOW = {"task_type": "chat", "budget": "low", "prompt": "Say hello in one short sentence."}


class Stack:
    """One simulator and any number of service processes reading the same simulated catalog."""

    def __init__(self, tmp: Path, **health: Any) -> None:
        self.tmp = tmp
        self.simulator = SimulatorProcess(log_level="warning").start()
        catalog = self.simulator.catalog(load_catalog())
        if health:
            catalog = catalog.model_copy(update={"health": catalog.health.model_copy(update=health)})
        path = write_catalog(catalog, tmp / "routing_config.yaml")
        self.base_env = {
            **{k: v for k, v in os.environ.items() if k not in {"ROUTER_MASTER_KEY", "REDIS_URL"}},
            **placeholder_keys(catalog, {}),
            "ROUTER_CONFIG": str(path),
            "ROUTER_HEALTH_PROBES": "true",  # the catalog points at the simulator
            "ROUTER_HEALTH_TICK_S": "0.1",
            "ROUTER_HEALTH_RESYNC_S": "0.2",
            "ROUTER_HEALTH_PROBE_INTERVAL_S": "3600",
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        }
        self.services: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *, workers: int = 1, **env: str) -> str:
        """A service process with its own data directory; returns its base URL."""
        data = self.tmp / name
        data.mkdir()
        port = free_port()
        proc = start_service(port, {
            **self.base_env, "ROUTER_DATA_DIR": str(data),
            "DATABASE_URL": f"sqlite+aiosqlite:///{data}/router.db", **env,
        }, self.tmp / f"{name}.log", workers=workers)
        self.services.append(proc)
        return f"http://127.0.0.1:{port}"

    def fault(self, provider: str, **settings: Any) -> None:
        """Set a provider's faults in the simulator (no settings: healthy again)."""
        self.simulator.configure(provider, **settings)

    def calls(self, provider: str) -> int:
        """Requests the simulator received for `provider` (completions and probes)."""
        count: int = self.simulator.stats()["providers"].get(provider, {}).get("requests", 0)
        return count

    def close(self) -> None:
        for proc in self.services:
            stop(proc)
        self.simulator.stop()


def execute(url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(f"{url}{API}/execute", json=body or CHAT_LOW, timeout=30)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def health(url: str) -> dict[str, dict[str, Any]]:
    """analytics/health by provider name."""
    response = httpx.get(f"{url}{API}/analytics/health", timeout=10)
    assert response.status_code == 200, response.text
    return {p["name"]: p for p in response.json()["providers"]}


def route(url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(f"{url}{API}/route", json=body or CHAT_LOW, timeout=10)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result
