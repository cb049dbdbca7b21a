"""`llm-router route` prints one decision as a table, or as the /route JSON with --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main


def test_route_prints_a_readable_table(
    provider_keys: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["route", "--task", "chat", "--budget", "low", "--context-size", "2000"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("decision ") and "strategy cost_optimized" in lines[0]
    assert lines[2].split()[:3] == ["0", "deepseek", "deepseek-chat"]
    assert "(96.8% saved)" in out
    for key in provider_keys.values():
        assert key not in out


def test_route_json_has_the_public_contract(
    provider_keys: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["route", "--task", "chat", "--budget", "medium", "--region", "eu",
            "--requires-compliance", "--json"]
    assert main(argv) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["primary_provider"] == "mistral"
    assert {"decision_id", "fallback_providers", "chain", "routing_strategy", "estimated_cost",
            "expected_quality", "excluded", "reasons"} <= set(payload)


def test_route_with_no_eligible_provider_lists_the_exclusions_and_exits_1(
    provider_keys: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["route", "--task", "vision", "--budget", "free"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("no eligible provider")
    assert "capability" in out and "budget" in out


def test_without_keys_every_provider_is_excluded_unless_told_to_ignore_keys(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("OPENAI_API_KEY", "DEEPSEEK_API_KEY", "MISTRAL_API_KEY", "GEMINI_API_KEY",
                "OPENROUTER_API_KEY", "HF_TOKEN", "ANTHROPIC_API_KEY", "COHERE_API_KEY",
                "VERTEX_AI_ACCESS_TOKEN", "AZURE_OPENAI_API_KEY", "AWS_ACCESS_KEY_ID",
                "PERPLEXITY_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    assert main(["route", "--task", "chat", "--budget", "low", "--json"]) == 1
    error = json.loads(capsys.readouterr().out)["error"]
    assert {e["reason"] for e in error["details"]["excluded"]} >= {"no_key"}
    assert main(["route", "--task", "chat", "--budget", "low", "--ignore-keys"]) == 0


def test_serving_starts_from_an_empty_multiprocess_metrics_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.cli import reset_metrics_dir

    stale = tmp_path / "counter_1234.db"
    stale.write_bytes(b"old run")
    keep = tmp_path / "README"
    keep.write_text("not a metrics file")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    reset_metrics_dir()
    assert not stale.exists() and keep.exists()
