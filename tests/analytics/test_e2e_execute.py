"""End to end: /execute against the simulator with injected failures, then every analytics figure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from app.config.catalog import Catalog
from app.simulator import SimulatorServer
from tests.analytics.live import API, execute_some, running_service, wait_for_records

pytestmark = pytest.mark.slow
N = 5


@pytest.fixture(scope="module")
def simulator(catalog: Catalog) -> Iterator[SimulatorServer]:
    with SimulatorServer(catalog=catalog) as server:
        yield server


def exact(value: float) -> Decimal:
    return Decimal(repr(value))


def test_figures_match_what_execute_returned(
    db_url: str,
    tmp_path: Path,
    simulator: SimulatorServer,
    catalog: Catalog,
    provider_keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with running_service(db_url, tmp_path, simulator, catalog, monkeypatch) as service:
        answers = execute_some(service, simulator, N)
        costs = wait_for_records(service, N)
        total = sum((exact(a["cost_usd"]) for a in answers), Decimal(0))
        baseline = sum((exact(a["baseline_cost_usd"]) for a in answers), Decimal(0))
        assert costs["requests"] == N
        assert exact(costs["total_cost_usd"]) == total and total > 0
        assert exact(costs["baseline_cost_usd"]) == baseline
        assert exact(costs["savings_usd"]) == baseline - total
        assert costs["savings_percent"] == float(round((baseline - total) * 100 / baseline, 2))
        answered = Counter(a["provider"] for a in answers)
        assert set(costs["by_provider"]) >= set(answered)
        assert list(costs["by_task"]) == ["chat"]

        calls = [x for a in answers for x in a["attempts"] if x["outcome"] != "skipped"]
        for name in {x["provider"] for x in calls}:
            mine = [x for x in calls if x["provider"] == name]
            ok = [x for x in mine if x["outcome"] == "success"]
            p = httpx.get(f"{service.url}{API}/analytics/providers/{name}", params={"window_hours": 1}).json()
            assert p["requests"] == len(mine)
            assert p["success_rate"] == round(len(ok) / len(mine), 6)
            assert p["avg_response_time_ms"] == pytest.approx(
                sum(x["latency_ms"] for x in mine) / len(mine), abs=1e-3
            )
            assert exact(p["total_cost_usd"]) == sum(
                (exact(a["cost_usd"]) for a in answers if a["provider"] == name), Decimal(0)
            )
            assert p["failures"]["error"] == sum(x["outcome"] == "error" for x in mine)
            qualities = [a["quality_score"] for a in answers if a["provider"] == name]
            if qualities:
                assert p["quality_score"] == pytest.approx(sum(qualities) / len(qualities), abs=1e-4)

        fb = httpx.get(f"{service.url}{API}/analytics/fallbacks").json()
        rescued = sum(1 for a in answers if a["attempts"][-1]["provider"] != a["attempts"][0]["provider"])
        assert fb["answered"] == N and fb["answered_by_fallback"] == rescued > 0
        failed_first = {x["provider"] for a in answers for x in a["attempts"] if x["outcome"] == "error"}
        reasons = {p["provider"]: p["failure_reasons"] for p in fb["providers"]}
        for name in failed_first:
            assert reasons[name][0]["error_class"] == "server_error"

        decisions = httpx.get(
            f"{service.url}{API}/analytics/decisions", params={"outcome": "succeeded"}
        ).json()["decisions"]
        assert sorted(d["decision_id"] for d in decisions) == sorted(a["decision_id"] for a in answers)
        stored = {d["decision_id"]: [(x["provider"], x["outcome"]) for x in d["attempts"]] for d in decisions}
        for a in answers:
            assert stored[a["decision_id"]] == [(x["provider"], x["outcome"]) for x in a["attempts"]]
