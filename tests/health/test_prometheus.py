"""The real Prometheus server (Debian package) scraping the service with two uvicorn workers
(multiprocess metrics), and every query of the Grafana dashboard evaluated through its API."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.health.stack import CHAT_LOW, Stack
from tests.health.test_breaker_service import execute_any
from tests.health.tools import ROOT, free_port, need, stop, wait_http

pytestmark = pytest.mark.slow

DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "llm-router.json"
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
# Grafana's variables, as Grafana would expand them for a short range
GRAFANA_VARIABLES = {"$__rate_interval": "30s", "$__range": "1h", "$__interval": "1s"}
TRAFFIC = [
    CHAT_LOW,
    {"task_type": "reasoning", "budget": "high", "prompt": "Why is the sky blue? Think it through."},
    {"task_type": "rag", "budget": "medium", "prompt": "Answer from the context: it is blue."},
    {"task_type": "code", "budget": "medium", "prompt": "Write a Python function that adds two numbers."},
]


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) for every target of every panel, Grafana variables expanded."""
    out = []
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(name, value)
            out.append((panel["title"], expr))
    return out


def test_promtool_accepts_the_metrics_and_prometheus_answers_every_dashboard_query(tmp_path: Path) -> None:
    promtool = need("promtool", "prometheus")
    prometheus = need("prometheus", "prometheus")
    stack = Stack(tmp_path)
    prom: subprocess.Popen[bytes] | None = None
    try:
        multiproc = tmp_path / "multiproc"
        multiproc.mkdir()
        url = stack.start("svc", workers=2, PROMETHEUS_MULTIPROC_DIR=str(multiproc),
                          ROUTER_HEALTH_PROBES="false")
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [{"job_name": "llm-router", "metrics_path": "/metrics",
                                "static_configs": [{"targets": [url.removeprefix("http://")]}]}],
        }))
        with (tmp_path / "prometheus.log").open("wb") as log:
            prom = subprocess.Popen(
                [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT,
            )
        api = f"http://127.0.0.1:{port}"
        wait_http(f"{api}/-/ready", prom, timeout=60)

        # traffic across several scrapes: successes, and fallbacks (deepseek fails)
        stack.fault("deepseek", error_rate=1.0, status=500)
        until = time.monotonic() + 6
        while time.monotonic() < until:
            for body in TRAFFIC:
                execute_any(url, body)
            time.sleep(0.2)

        text = httpx.get(f"{url}/metrics", timeout=10).text
        checked = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                                 text=True, timeout=60)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert 'llm_router_circuit_state{provider="deepseek"}' in text
        assert 'llm_router_fallbacks_total{provider="deepseek",task="chat"}' in text

        queries = dashboard_queries()
        assert len(queries) >= 20
        empty: list[tuple[str, str]] = []
        deadline = time.monotonic() + 30
        while True:
            empty = [(title, expr) for title, expr in queries if not _result(api, expr)]
            if not empty or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert not empty, f"queries without data: {empty}"

        rules = httpx.get(f"{api}/api/v1/rules", timeout=10).json()["data"]["groups"]
        names = {r["name"] for g in rules for r in g["rules"]}
        assert names >= {"LLMRouterProviderDown", "LLMRouterRecordsDropped"}
        assert all(r["health"] == "ok" for g in rules for r in g["rules"])
        targets = httpx.get(f"{api}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        assert [t["health"] for t in targets] == ["up"]
    finally:
        if prom is not None:
            stop(prom)
        stack.close()


def _result(api: str, expr: str) -> list[object]:
    response = httpx.get(f"{api}/api/v1/query", params={"query": expr}, timeout=10)
    body = response.json()
    assert body.get("status") == "success", f"{expr}: {body}"
    result: list[object] = body["data"]["result"]
    return result
