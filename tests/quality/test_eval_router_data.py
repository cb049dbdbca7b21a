"""`llm-router eval-router` on the RouteLLM development files: the data README's baselines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from app.quality.estimator import ARTIFACT_PATH


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["eval-router", *args, "--json"]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def by_name(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {r["router"]: r for r in report["routers"]}


# The data README: prompt length, random and oracle, measured on the full development files.
README = {
    "gsm8k": {"prompt-length": ("34.6", "68.8", "0.593"), "oracle_cpt50": "10.9"},
    "mmlu": {"prompt-length": ("36.2", "65.6", "0.598"), "oracle_cpt50": "6.5"},
}


@pytest.mark.parametrize("name", ["gsm8k", "mmlu"])
def test_baselines_match_the_data_readme(routing_data: Path, capsys: pytest.CaptureFixture[str],
                                         name: str) -> None:
    report = run_json(capsys, "--data", str(routing_data / f"{name}_dev.csv"), "--estimator", "rules")
    routers = by_name(report)
    length = routers["prompt-length"]
    cpt50, cpt80, apgr = README[name]["prompt-length"]
    assert f"{length['cpt50'] * 100:.1f}" == cpt50
    assert f"{length['cpt80'] * 100:.1f}" == cpt80
    assert f"{length['apgr']:.3f}" == apgr
    assert f"{routers['oracle']['cpt50'] * 100:.1f}" == README[name]["oracle_cpt50"]
    assert f"{routers['random']['cpt50'] * 100:.0f}" == "50"
    assert f"{routers['random']['apgr']:.2f}" == "0.50"


@pytest.mark.parametrize("name", ["gsm8k", "mmlu"])
def test_holdout_figures_are_the_ones_the_artifact_was_shipped_with(
    routing_data: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    shipped = json.loads(ARTIFACT_PATH.read_text())["meta"]["heldout"][name]
    report = run_json(capsys, "--data", str(routing_data / f"{name}_dev.csv"), "--holdout")
    routers = by_name(report)
    assert report["rows"] == shipped["rows"]
    for key in ("cpt50", "cpt80", "apgr"):
        assert routers["learned"][key] == pytest.approx(shipped[key], abs=1e-6)
        assert routers["prompt-length"][key] == pytest.approx(shipped[f"length_{key}"], abs=1e-6)


@pytest.mark.parametrize("name", ["gsm8k", "mmlu"])
def test_the_learned_estimator_beats_prompt_length_on_held_out_rows(
    routing_data: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    routers = by_name(run_json(capsys, "--data", str(routing_data / f"{name}_dev.csv"), "--holdout"))
    assert routers["learned"]["apgr"] > routers["prompt-length"]["apgr"]
    assert routers["learned"]["cpt80"] < routers["prompt-length"]["cpt80"]


def test_on_held_out_mmlu_half_the_gain_costs_fewer_strong_calls_than_by_length(
    routing_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    routers = by_name(run_json(capsys, "--data", str(routing_data / "mmlu_dev.csv"), "--holdout"))
    assert routers["learned"]["cpt50"] < routers["prompt-length"]["cpt50"]


def test_the_table_names_every_router(routing_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval-router", "--data", str(routing_data / "gsm8k_dev.csv")]) == 0
    out = capsys.readouterr().out
    for name in ("learned", "prompt-length", "random", "oracle", "CPT(50%)", "APGR"):
        assert name in out


def test_a_file_without_the_columns_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("question,answer\nhi,1\n")
    assert main(["eval-router", "--data", str(bad)]) == 2
    assert "missing column" in capsys.readouterr().err


def test_a_small_file_without_ids_is_scored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "tiny.csv"
    rows = ["prompt,strong,weak"] + [f"\"question {i} {'x' * i}\",1.0,{float(i % 2)}" for i in range(20)]
    data.write_text("\n".join(rows) + "\n")
    report = run_json(capsys, "--data", str(data))
    assert report["rows"] == 20
    assert report["weak_accuracy"] == 0.5
