"""The service on a free port in front of the provider simulator, as the demo runs them, with
short stream timeouts so a hang costs a second; and the store's rows read back for checks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import OpenAI

from app.commands.demo import placeholder_keys, write_catalog
from app.config.catalog import Catalog
from app.config.settings import Settings
from app.simulator import SimulatorServer
from app.store.decision_lists import lists_of
from app.store.engine import create_engine, create_sessionmaker
from app.store.repositories import attempts_of, get_decision
from tests.execution.service import ServiceThread

FIRST_TOKEN_S = 1.0
IDLE_S = 1.0
ROUTE = "/api/brain/ai-assistant/route"


def quick_catalog(catalog: Catalog, *, idle_s: float = IDLE_S) -> Catalog:
    """Every provider with a 1 s time-to-first-token and a short idle timeout."""
    providers = {
        name: spec.model_copy(update={"timeouts": spec.timeouts.model_copy(
            update={"first_token_s": FIRST_TOKEN_S, "stream_idle_s": idle_s})})
        for name, spec in catalog.providers.items()
    }
    return catalog.model_copy(update={"providers": providers})


@dataclass
class Running:
    """A service in front of the simulator, its SQLite store, and an OpenAI SDK client for it."""

    service: ServiceThread
    simulator: SimulatorServer
    db_url: str

    @property
    def url(self) -> str:
        return self.service.url

    def client(self, **kwargs: Any) -> OpenAI:
        return OpenAI(base_url=self.url + "/v1", api_key="sk-any", max_retries=0, timeout=30, **kwargs)

    def chain(self, headers: dict[str, str] | None = None, **request: Any) -> list[str]:
        """The providers the router would try, in order, for these constraints."""
        body = {"task_type": "chat", "budget": "low", **request}
        if "messages" not in body:
            body["prompt"] = "Capital of France?"
        decision = httpx.post(self.url + ROUTE, json=body, headers=headers).json()
        return [c["provider"] for c in decision["chain"]]

    def stored(self, decision_id: str, *, attempts: int, timeout_s: float = 10) -> tuple[Any, list[Any]]:
        """The decision row (with its whole chain and exclusions, as readers see them) and its
        attempt rows, once the write-behind writer has committed them."""
        deadline = time.monotonic() + timeout_s
        while True:
            decision, rows = asyncio.run(self._read(decision_id))
            if (decision is not None and len(rows) >= attempts) or time.monotonic() > deadline:
                return decision, rows
            time.sleep(0.05)

    async def _read(self, decision_id: str) -> tuple[Any, list[Any]]:
        engine = create_engine(self.db_url)
        try:
            async with create_sessionmaker(engine)() as session:
                decision = await get_decision(session, decision_id)
                lists = None if decision is None else await lists_of(session, decision)
                attempts = await attempts_of(session, decision_id)
            if decision is not None and lists is not None:  # detached: nothing is written back
                decision.chain, decision.excluded = lists
            return decision, attempts
        finally:
            await engine.dispose()


@contextmanager
def running(simulator: SimulatorServer, catalog: Catalog, tmp_path: Path, *, idle_s: float = IDLE_S,
            **settings: Any) -> Iterator[Running]:
    """Start the service with the catalog pointed at the simulator and placeholder keys set."""
    simulated = quick_catalog(simulator.catalog(catalog), idle_s=idle_s)
    path = write_catalog(simulated, tmp_path / "catalog.yaml")
    db_url = f"sqlite+aiosqlite:///{tmp_path}/router.db"
    with pytest.MonkeyPatch.context() as patch:
        for var, value in placeholder_keys(simulated, {}).items():
            patch.setenv(var, value)
        config = Settings(router_config=path, database_url=db_url, ROUTER_DATA_DIR=tmp_path, **settings)
        with ServiceThread(config) as service:
            yield Running(service, simulator, db_url)


@pytest.fixture(scope="module")
def simulator(catalog: Catalog) -> Iterator[SimulatorServer]:
    with SimulatorServer(catalog=catalog) as server:
        yield server


@pytest.fixture(scope="module")
def shared(simulator: SimulatorServer, catalog: Catalog,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One service for the tests that inject no fault (health stays clean)."""
    with running(simulator, catalog, tmp_path_factory.mktemp("openai")) as service:
        yield service


@pytest.fixture
def svc(shared: Running) -> Running:
    shared.simulator.reset()
    return shared


@pytest.fixture
def fresh(simulator: SimulatorServer, catalog: Catalog, tmp_path: Path) -> Iterator[Running]:
    """A service of its own, for tests that break providers (their health must not leak)."""
    simulator.reset()
    with running(simulator, catalog, tmp_path) as service:
        yield service
