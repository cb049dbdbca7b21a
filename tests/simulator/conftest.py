"""One simulator per test session on a free loopback port, reset to health before each test."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from app.config.catalog import Catalog
from app.simulator import SimulatorServer


def tokens(text: str) -> int:
    """The simulator's documented token rule: characters / 4, rounded up."""
    return math.ceil(len(text) / 4)


@pytest.fixture(scope="session")
def simulator_session(catalog: Catalog) -> Iterator[SimulatorServer]:
    with SimulatorServer(catalog=catalog, seed=0) as server:
        yield server


@pytest.fixture
def sim(simulator_session: SimulatorServer) -> SimulatorServer:
    simulator_session.reset()
    return simulator_session


def real_base(catalog: Catalog, provider: str) -> str:
    return str(catalog.providers[provider].base_url)
