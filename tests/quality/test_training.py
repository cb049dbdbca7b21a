"""The training script's run reproduces the shipped artifact (weights, blend and held-out figures)."""

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
    assert fresh["meta"]["cross_validation"] == shipped["meta"]["cross_validation"]
    assert fresh["domains"].keys() == shipped["domains"].keys()
    for name, block in shipped["domains"].items():
        mine = fresh["domains"][name]
        assert mine["vocabulary"] == block["vocabulary"]
        assert mine["length"] == block["length"]
        for key in ("dense_strong", "dense_weak", "bias", "gap", "calibration", "dense_mean", "dense_scale"):
            assert mine[key] == pytest.approx(block[key], rel=1e-4, abs=1e-6)
        for key in ("strong_terms", "weak_terms"):
            assert mine[key] == pytest.approx(block[key], abs=1e-5)


def test_the_blend_weight_was_chosen_on_training_rows_only() -> None:
    meta = json.loads(ARTIFACT_PATH.read_text())["meta"]
    for name, cv in meta["cross_validation"].items():
        by_weight = {float(w): a for w, a in cv["apgr_by_length_weight"].items()}
        # the shipped weight is the cross-validated best, not a pick made on the held-out rows
        assert by_weight[cv["length_weight"]] == max(by_weight.values()), name
        assert cv["rows"] < sum(meta["trained_on"].values())
