"""Dry run: the figures are the sums of the decisions' own estimates, and --json parses."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from app.cli import main
from app.config.catalog import Catalog
from app.errors import NoEligibleProvider
from app.routing.router import SmartLLMRouter
from app.routing.schemas import RouteRequest
from app.simulation.workload import generate, write_workload


def _expected(items: list, catalog: Catalog) -> tuple[Decimal, Decimal, int, dict[str, Decimal]]:
    router = SmartLLMRouter(catalog=catalog, check_keys=False)
    cost, baseline, rejected = Decimal(0), Decimal(0), 0
    by_tier: dict[str, Decimal] = {}
    for item in items:
        request = RouteRequest(task_type=item.task, budget=item.budget, region=item.region,
                               context_size=item.context_tokens, expected_output_tokens=item.output_tokens,
                               requires_sla=item.requires_sla, requires_compliance=item.requires_compliance)
        try:
            decision = router.decide(request, keyed=None)
        except NoEligibleProvider:
            rejected += 1
            continue
        cost += decision.estimated_cost_usd
        baseline += decision.baseline_cost_usd
        by_tier[item.budget.value] = by_tier.get(item.budget.value, Decimal(0)) + decision.estimated_cost_usd
    return cost, baseline, rejected, by_tier


def test_dry_run_equals_the_sum_of_the_decisions_estimates(
    tmp_path: Path, catalog: Catalog, capsys: pytest.CaptureFixture[str]
) -> None:
    items = generate(400, seed=21)
    path = tmp_path / "w.jsonl"
    write_workload(items, path)
    assert main(["simulate", "--workload", str(path), "--dry-run", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    cost, baseline, rejected, by_tier = _expected(items, catalog)
    assert report["mode"] == "dry_run"
    assert report["requests"] == 400
    assert report["rejected_no_eligible_provider"] == rejected
    assert report["routed"] == 400 - rejected
    assert report["cost_usd"] == pytest.approx(float(cost), abs=1e-5)
    assert report["baseline_cost_usd"] == pytest.approx(float(baseline), abs=1e-5)
    assert report["savings_percent"] == pytest.approx(float((baseline - cost) / baseline * 100), abs=1e-3)
    assert {t: b["cost_usd"] for t, b in report["by_budget"].items()} == pytest.approx(
        {t: float(v) for t, v in by_tier.items()}, abs=1e-5)


def test_dry_run_table_and_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "w.jsonl"
    write_workload(generate(30, seed=2), path)
    assert main(["simulate", "--workload", str(path), "--dry-run", "--limit", "10"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("mode dry_run: 10 requests")
    assert "vs baseline" in out


def test_simulate_needs_exactly_one_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--dry-run"]) == 2
    assert "--workload" in capsys.readouterr().err
