"""`llm-router keys` against a real store, and `serve` refusing non-loopback hosts without a master key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.cli import main
from app.config.settings import Settings
from app.main import create_app
from app.tenancy.exposure import is_loopback, refusal

ROUTE = "/api/brain/ai-assistant/route"
CHAT_LOW = {"task_type": "chat", "budget": "low", "context_size": 1000}
MASTER = "master-key-for-tests-0123456789"


@pytest.fixture
def store_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    data = tmp_path / "data"
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{data}/router.db")
    monkeypatch.setenv("ROUTER_DATA_DIR", str(data))
    monkeypatch.delenv("ROUTER_MASTER_KEY", raising=False)
    yield data


def test_create_prints_the_key_alone_on_its_last_line_and_it_works(
    store_env: Path, capsys: pytest.CaptureFixture[str], provider_keys: dict[str, str]
) -> None:
    assert main(["keys", "create", "--tenant", "acme", "--scope", "route", "--name", "ci"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    key = out[-1]
    assert key.startswith("llr_") and " " not in key and "acme" in out[0]
    assert main(["keys", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(k["tenant"], k["scopes"], k["name"], k["revoked_at"]) for k in listed] == [
        ("acme", ["route"], "ci", None)]
    assert key not in json.dumps(listed)

    settings = Settings(router_master_key=MASTER, database_url=f"sqlite+aiosqlite:///{store_env}/router.db",
                        ROUTER_DATA_DIR=store_env)
    with TestClient(create_app(settings)) as client:
        assert client.post(ROUTE, json=CHAT_LOW, headers={"x-api-key": key}).status_code == 200
        assert main(["keys", "revoke", listed[0]["prefix"]]) == 0
        assert "revoked" in capsys.readouterr().out
        # Another process revoked it: this replica refuses it once its cache entry expires.
        client.app.state.ctx.tenancy.authenticator.forget(listed[0]["id"])  # type: ignore[attr-defined]
        assert client.post(ROUTE, json=CHAT_LOW, headers={"x-api-key": key}).status_code == 401


def test_list_table_and_errors(store_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--tenant", "acme"]) == 0
    assert main(["keys", "create", "--tenant", "globex", "--scope", "analytics"]) == 0
    capsys.readouterr()
    assert main(["keys", "list", "--tenant", "globex"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and "globex" in lines[1] and "analytics" in lines[1]
    assert main(["keys", "revoke", "ffffffffffff"]) == 1
    assert "no API key" in capsys.readouterr().err
    assert main(["keys", "list", "--tenant", "nobody"]) == 1
    with pytest.raises(SystemExit):
        main(["keys", "create", "--tenant", "acme", "--scope", "root"])


@pytest.mark.parametrize("command", ["serve", "demo"])
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "example.org"])
def test_serve_and_demo_refuse_other_hosts_without_a_master_key(
    command: str, host: str, store_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--host", host, "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert f"refusing to listen on {host}" in err
    assert command == "demo" or "ROUTER_MASTER_KEY" in err  # the demo never takes a master key


def test_loopback_detection() -> None:
    assert all(is_loopback(h) for h in ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST"])
    assert not any(is_loopback(h) for h in ["0.0.0.0", "::", "192.168.1.1", "localhost.example.org", ""])
    assert refusal("0.0.0.0", auth_enabled=True) is None
    assert refusal("127.0.0.1", auth_enabled=False) is None
