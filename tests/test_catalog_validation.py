"""A bad catalog stops start-up with the file, the path inside it and the problem."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from app.cli import main as cli_main
from app.config.loader import DEFAULT_CATALOG, load_catalog
from app.config.settings import Settings
from app.errors import ConfigError
from app.main import create_app

Mutation = Callable[[dict[str, Any]], None]


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    data = yaml.safe_load(DEFAULT_CATALOG.read_text())
    assert isinstance(data, dict)
    return data


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _set(path: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        node: Any = data
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        last = parts[-1]
        node[int(last) if last.isdigit() else last] = value
    return mutate


def _duplicate_model(data: dict[str, Any]) -> None:
    models = data["providers"]["mistral"]["models"]
    models.append(copy.deepcopy(models[0]))


CASES = [
    ("unknown protocol", _set("providers.mistral.protocol", "grpc"),
     "providers.mistral.protocol", "openai"),
    ("negative price", _set("providers.mistral.models.1.input_price", -1),
     "providers.mistral.models[1].input_price", "greater than or equal to 0"),
    ("unknown task", _set("providers.openai.models.0.capabilities", ["chat", "telepathy"]),
     "providers.openai.models[0].capabilities", "telepathy"),
    ("duplicate model", _duplicate_model,
     "providers.mistral.models[4].name", "duplicate model"),
    ("task preference names a missing provider", _set("task_preferences.chat", ["deepseek", "acme"]),
     "task_preferences.chat[1]", "unknown provider 'acme'"),
    ("tier preference names a missing provider", _set("budget_tiers.low.preferred_providers", ["nobody"]),
     "budget_tiers.low.preferred_providers[0]", "unknown provider"),
    ("unknown key (typo)", _set("providers.deepseek.contxt", 1),
     "providers.deepseek.contxt", "Extra inputs are not permitted"),
    ("quality missing for a capability", _set("providers.deepseek.models.0.quality", {"chat": 7}),
     "providers.deepseek.models[0].quality", "no score for capabilities"),
    ("quality above 10", _set("providers.deepseek.models.0.quality.chat", 11),
     "providers.deepseek.models[0].quality.chat", "less than or equal to 10"),
    ("unknown budget tier", _set("budget_tiers.platinum", {"max_blended_price": 1, "strategy": "balanced"}),
     "budget_tiers.platinum", "free"),
    ("baseline model missing", _set("baseline.model", "gpt-9"),
     "baseline.model", "not a model of 'openai'"),
    ("zero context window", _set("providers.gemini.models.0.context_window", 0),
     "providers.gemini.models[0].context_window", "greater than 0"),
]


@pytest.mark.parametrize(("name", "mutate", "path", "problem"), CASES, ids=[c[0] for c in CASES])
def test_bad_catalog_names_file_path_and_problem(
    tmp_path: Path, raw: dict[str, Any], name: str, mutate: Mutation, path: str, problem: str
) -> None:
    data = copy.deepcopy(raw)
    mutate(data)
    file = _write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_catalog(file)
    text = str(info.value)
    assert str(file) in text
    line = next((p for p in info.value.problems if p.startswith(path)), None)
    assert line is not None, f"{path!r} not in {info.value.problems}"
    assert problem in line


def test_duplicate_yaml_key_is_refused(tmp_path: Path) -> None:
    dup = "  deepseek:\n    region: us\n    region: eu\n"
    text = DEFAULT_CATALOG.read_text().replace("  deepseek:\n", dup, 1)
    file = tmp_path / "dup.yaml"
    file.write_text(text)
    with pytest.raises(ConfigError, match="duplicate key 'region'"):
        load_catalog(file)


def test_router_config_env_points_at_another_file(
    tmp_path: Path, raw: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = copy.deepcopy(raw)
    data["providers"]["deepseek"]["models"][0]["context_window"] = 1234
    monkeypatch.setenv("ROUTER_CONFIG", str(_write(tmp_path, data)))
    assert load_catalog().providers["deepseek"].models[0].context_window == 1234


def test_service_refuses_to_start_on_a_bad_catalog(
    tmp_path: Path, raw: dict[str, Any]
) -> None:
    data = copy.deepcopy(raw)
    data["providers"]["mistral"]["protocol"] = "grpc"
    settings = Settings(router_config=_write(tmp_path, data))
    with pytest.raises(ConfigError, match=r"providers\.mistral\.protocol"), TestClient(
        create_app(settings)
    ):
        pass


def test_cli_reports_a_bad_catalog_and_exits_2(
    tmp_path: Path, raw: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    data = copy.deepcopy(raw)
    data["providers"]["mistral"]["models"][1]["input_price"] = -1
    file = _write(tmp_path, data)
    assert cli_main(["route", "--config", str(file)]) == 2
    err = capsys.readouterr().err
    assert str(file) in err and "providers.mistral.models[1].input_price" in err


def test_a_missing_catalog_names_the_path_and_the_variable(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError) as info:
        load_catalog(missing)
    assert str(missing) in str(info.value) and "ROUTER_CONFIG" in str(info.value)
