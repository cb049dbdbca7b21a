"""Experiment assignment: deterministic, balanced within a tolerance, validated in the catalog."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from app.config.catalog import Experiment
from app.config.enums import BudgetTier, TaskType
from app.config.loader import DEFAULT_CATALOG, load_catalog
from app.errors import ConfigError
from app.experiments.assignment import assign, bucket, unit_of
from app.experiments.policy import RoutingPolicy
from app.routing.router import SmartLLMRouter
from app.routing.schemas import RouteRequest


def _experiment(*weights: float, unit: str = "request") -> Experiment:
    return Experiment.model_validate({
        "name": "exp", "enabled": True, "unit": unit,
        "variants": [{"name": f"v{i}", "weight": w} for i, w in enumerate(weights)]})


def test_same_unit_same_variant_in_another_process() -> None:
    exp = _experiment(50, 50)
    here = [assign(exp, f"request:{i}").name for i in range(200)]
    assert here == [assign(exp, f"request:{i}").name for i in range(200)]
    code = ("from app.experiments.assignment import bucket;"
            "print(','.join(str(bucket('exp', f'request:{i}')) for i in range(50)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parents[2]).stdout.strip()
    assert out.split(",") == [str(bucket("exp", f"request:{i}")) for i in range(50)]


@pytest.mark.parametrize("weights", [(50, 50), (20, 30, 50), (10, 90), (0, 100)])
def test_balanced_within_four_standard_deviations(weights: tuple[float, ...]) -> None:
    exp = _experiment(*weights)
    n = 20_000
    counts = {v.name: 0 for v in exp.variants}
    for i in range(n):
        counts[assign(exp, f"request:{i:08x}").name] += 1
    for v in exp.variants:
        share = v.weight / 100
        sd = math.sqrt(n * share * (1 - share))
        assert abs(counts[v.name] - n * share) <= 4 * sd + 1e-9, (v.name, counts)


def test_tenant_unit_keeps_a_tenant_in_one_arm() -> None:
    exp = _experiment(50, 50, unit="tenant")
    arms = {assign(exp, unit_of(exp, tenant="acme", request_id=f"r{i}")).name for i in range(100)}
    assert len(arms) == 1
    anonymous = {assign(exp, unit_of(exp, tenant=None, request_id=f"r{i}")).name for i in range(100)}
    assert len(anonymous) == 2  # no tenant: split by request


def test_experiments_split_independently() -> None:
    a, b = _experiment(50, 50), Experiment.model_validate({
        "name": "other", "variants": [{"name": "v0", "weight": 50}, {"name": "v1", "weight": 50}]})
    same = sum(assign(a, f"u{i}").name == assign(b, f"u{i}").name for i in range(4000))
    assert 1800 < same < 2200


def test_weights_must_add_up_to_100() -> None:
    with pytest.raises(ValidationError, match="add up to 100"):
        _experiment(50, 40)


def _with(tmp_path: Path, experiments: list[dict[str, Any]]) -> Path:
    data = yaml.safe_load(DEFAULT_CATALOG.read_text())
    data["experiments"] = experiments
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_bad_variant_field_names_its_path(tmp_path: Path) -> None:
    path = _with(tmp_path, [{"name": "x", "variants": [
        {"name": "a", "weight": 50}, {"name": "b", "weight": 50, "quality_target": 1.5}]}])
    with pytest.raises(ConfigError, match=r"experiments\[0\]\.variants\[1\]\.quality_target"):
        load_catalog(path)


def test_two_enabled_experiments_are_refused(tmp_path: Path) -> None:
    arm = [{"name": "a", "weight": 100}]
    path = _with(tmp_path, [{"name": "x", "enabled": True, "variants": arm},
                            {"name": "y", "enabled": True, "variants": arm}])
    with pytest.raises(ConfigError, match="at most one experiment"):
        load_catalog(path)


def test_shipped_example_is_off() -> None:
    catalog = load_catalog(None)
    assert catalog.experiments and not any(e.enabled for e in catalog.experiments)


def test_bad_catalog_override_names_its_path(tmp_path: Path) -> None:
    path = _with(tmp_path, [{"name": "x", "variants": [
        {"name": "a", "weight": 50},
        {"name": "b", "weight": 50,
         "catalog_overrides": {"budget_tiers": {"low": {"max_blended_price": -1}}}}]}])
    with pytest.raises(ConfigError, match=r"experiments\[0\]\.variants\[1\]\.catalog_overrides: "
                                          r"budget_tiers\.low\.max_blended_price"):
        load_catalog(path)


def test_an_arm_routes_with_its_overrides(tmp_path: Path) -> None:
    path = _with(tmp_path, [{"name": "cheap", "enabled": True, "unit": "request", "variants": [
        {"name": "control", "weight": 50},
        {"name": "tight", "weight": 50,
         "catalog_overrides": {"budget_tiers": {"low": {"max_blended_price": 0.3}}}}]}])
    catalog = load_catalog(path)
    router = SmartLLMRouter(catalog=catalog, check_keys=False)
    policy = RoutingPolicy(router, estimator=None)
    request = RouteRequest(task_type=TaskType.CHAT, budget=BudgetTier.LOW, context_size=2000)
    prices: dict[str, set[float]] = {"cheap/control": set(), "cheap/tight": set()}
    for i in range(40):
        resolved = policy.resolve(request, f"req-{i}")
        assert resolved.variant is not None
        d = router.decide(request, keyed=None, index=resolved.index)
        prices[resolved.variant].add(d.primary.candidate.blended_price_f)
        if resolved.variant == "cheap/tight":
            assert all(s.candidate.blended_price_f <= 0.3 for s in d.chain)
    assert max(prices["cheap/control"]) > 0.3  # the base tier allows dearer models
    assert prices["cheap/tight"]
