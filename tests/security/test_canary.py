"""Provider keys never leak: after a run with successes, fallbacks (500, 429, 401), provider-refused
requests, total failure and streams (clean, failed over, broken mid-way), no log line, response,
/metrics output, database byte or spool file contains a canary key, nor a tenant's API key."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.commands.demo import EXTRA_PLACEHOLDERS
from app.config.catalog import Catalog
from app.simulator import SimulatorServer
from tests.execution.service import ServiceThread
from tests.openai_compat.conftest import quick_catalog
from tests.tenancy.stack import API, EXECUTE, MASTER, auth, secured_settings, tenant_key

ASK = [{"role": "user", "content": "Say something about circuit breakers, with code and a source."}]
EXEC = {"task_type": "chat", "budget": "low", "messages": ASK, "max_tokens": 120}
CHAT = {"model": "auto", "messages": ASK, "budget": "low"}


@pytest.fixture(scope="module")
def simulator(catalog: Catalog) -> Iterator[SimulatorServer]:
    with SimulatorServer(catalog=quick_catalog(catalog)) as server:
        yield server


class Recorder:
    """Every response's status line, headers and body, as text."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def keep(self, response: httpx.Response) -> httpx.Response:
        self.texts.append(f"{response.status_code} {dict(response.headers)} {response.text}")
        return response


def chain(client: httpx.Client) -> list[str]:
    routed = client.post(f"{API}/route", json={k: v for k, v in EXEC.items() if k != "max_tokens"})
    return [c["provider"] for c in routed.json()["chain"]]


def catalog_providers(simulator: SimulatorServer) -> list[str]:
    listed: dict[str, Any] = httpx.get(f"{simulator.url}/_control/providers").json()["providers"]
    return list(listed)


def exercise(client: httpx.Client, simulator: SimulatorServer, keep: Recorder) -> dict[str, int]:
    """The run: each kind of outcome at least once; returns what was seen, by kind."""
    seen: dict[str, int] = {}

    def note(kind: str, response: httpx.Response, status: int) -> None:
        keep.keep(response)
        assert response.status_code == status, f"{kind}: {response.status_code} {response.text[:300]}"
        seen[kind] = seen.get(kind, 0) + 1

    for _ in range(3):
        note("success", client.post(EXECUTE, json=EXEC), 200)
    # Health reorders the chain as providers fail (a 401 ejects one), so the primary is asked each time.
    for fault in ({"status": 500}, {"status": 429, "retry_after": 2}, {"status": 401}, {"status": 403}):
        primary = chain(client)[0]
        simulator.configure(primary, **fault)
        response = client.post(EXECUTE, json=EXEC)
        note(f"fallback {fault['status']}", response, 200)
        assert response.json()["provider"] != primary
        simulator.reset()
    primary = chain(client)[0]
    simulator.configure(primary, status=400)
    note("provider refused", client.post(EXECUTE, json=EXEC), 400)
    simulator.reset()
    with client.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as streamed:
        keep.keep(streamed.read() and streamed)
        seen["stream"] = 1
    primary = chain(client)[0]
    simulator.configure(primary, status=500)
    with client.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as failed_over:
        keep.keep(failed_over.read() and failed_over)
        assert failed_over.headers["x-router-provider"] != primary
        seen["stream fallback"] = 1
    simulator.reset()
    primary = chain(client)[0]
    simulator.configure(primary, fail_after_chunks=2)
    with client.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as broken:
        keep.keep(broken.read() and broken)
        assert "error" in broken.text
        seen["stream broken"] = 1
    simulator.reset()
    note("chat", client.post("/v1/chat/completions", json=CHAT), 200)
    for provider in catalog_providers(simulator):
        simulator.configure(provider, status=503)
    note("all failed", client.post(EXECUTE, json=EXEC), 502)
    simulator.reset()
    for path in ("/metrics", f"{API}/providers", f"{API}/analytics/health", f"{API}/analytics/costs",
                 f"{API}/analytics/decisions", f"{API}/analytics/fallbacks", f"{API}/tenant",
                 f"{API}/analytics/export?format=ndjson&include_raw_data=true", "/v1/models"):
        note(f"GET {path}", client.get(path), 200)
    return seen


@pytest.mark.slow
def test_no_secret_reaches_logs_responses_metrics_database_or_spool(
    simulator: SimulatorServer, catalog: Catalog, provider_keys: dict[str, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
) -> None:
    simulator.reset()
    caplog.set_level(logging.DEBUG)
    data = tmp_path / "data"
    db_url = f"sqlite+aiosqlite:///{data}/router.db"
    settings = secured_settings(simulator, quick_catalog(catalog), tmp_path, db_url, monkeypatch)
    keep = Recorder()
    with ServiceThread(settings) as service:
        api_key = tenant_key(service.url, "acme")
        with httpx.Client(base_url=service.url, headers=auth(api_key), timeout=30) as client:
            seen = exercise(client, simulator, keep)
        admin = httpx.get(f"{service.url}{API}/admin/keys", headers=auth(MASTER))
        keep.keep(admin)
        time.sleep(0.3)  # the writer's last batch
    assert {"success", "fallback 500", "fallback 429", "fallback 401", "fallback 403", "provider refused",
            "stream", "stream fallback", "stream broken", "all failed"} <= set(seen)

    aws_secret = [v for k, v in EXTRA_PLACEHOLDERS.items() if "SECRET" in k]  # a project id is no secret
    secrets = {*provider_keys.values(), *aws_secret, api_key, api_key.split("_", 2)[2], MASTER}
    assert len(secrets) >= len(provider_keys) + 3
    places: dict[str, str] = {
        "responses": "\n".join(keep.texts),
        "logs": "\n".join(_formatted(r) for r in caplog.records),
        "stdout/stderr": "".join(capfd.readouterr()),
    }
    files = [p for p in data.rglob("*") if p.is_file()]
    assert any(p.name.startswith("router.db") for p in files)
    for path in files:  # the database file, its WAL, and every spool or dead-letter file
        places[str(path.relative_to(tmp_path))] = path.read_bytes().decode("latin-1")
    assert len(places["logs"]) > 0 and "x-router-provider" in places["responses"]
    leaks = {(where, secret) for where, text in places.items() for secret in secrets if secret in text}
    assert leaks == set()


def _formatted(record: logging.LogRecord) -> str:
    text = f"{record.name} {record.getMessage()} {record.args!r}"
    if record.exc_info:
        text += logging.Formatter().formatException(record.exc_info)
    return text + " " + " ".join(f"{k}={v!r}" for k, v in vars(record).items() if k not in _STANDARD)


_STANDARD: set[str] = set(vars(logging.LogRecord("n", 0, "p", 0, "m", None, None))) | {"message", "asctime"}


