"""The training script's run reproduces the shipped artifact (weights and held-out figures)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.quality.estimator import ARTIFACT_PATH


@pytest.mark.slow
def test_training_reproduces_the_shipped_artifact(routing_data: Path) -> None:
    from app.quality.training import train

    fresh = json.loads(json.dumps(train(routing_data)))
    shipped = json.loads(ARTIFACT_PATH.read_text())
    assert fresh["meta"]["heldout"] == shipped["meta"]["heldout"]
    assert fresh["vocabulary"] == shipped["vocabulary"]
    for which in ("strong", "weak"):
        for key in ("dense", "bias"):
            expected = shipped["models"][which][key]
            assert fresh["models"][which][key] == pytest.approx(expected, rel=1e-4, abs=1e-6)
        expected_terms = shipped["models"][which]["terms"]
        assert fresh["models"][which]["terms"] == pytest.approx(expected_terms, abs=1e-5)
