"""The deployment files: alert rules and scrape config (promtool), the compose file
(docker-compose config), the Grafana provisioning, and the Dockerfile's build steps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.health import dockerfile
from tests.health.tools import ROOT, free_port, need, stop, wait_http

PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
GRAFANA_DIR = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "llm-router.json"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([need("promtool", "prometheus"), *args], cwd=PROMETHEUS_DIR,
                          capture_output=True, text=True, timeout=60)


def test_alert_rules_pass_promtool_and_their_unit_tests() -> None:
    checked = _promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())["groups"][0]["rules"]
    names = {r["alert"] for r in rules}
    assert {"LLMRouterProviderDown", "LLMRouterHighDailyCost", "LLMRouterRecordsDropped"} <= names
    tested = _promtool("test", "rules", "alerts.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_scrape_config_is_valid_and_scrapes_the_router() -> None:
    checked = _promtool("check", "config", "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    job = config["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["router:8000"]


def _compose_config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([need("docker-compose", "docker-compose"), "-f", "docker-compose.yml", "config"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_compose_file_validates_and_wires_every_part() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ROUTER_MASTER_KEY"}
    refused = _compose_config(env)
    assert refused.returncode != 0 and "ROUTER_MASTER_KEY" in refused.stderr, "the admin key is mandatory"
    result = _compose_config({**env, "ROUTER_MASTER_KEY": "test-admin-key"})
    assert result.returncode == 0, result.stderr
    compose = yaml.safe_load(result.stdout)
    services = compose["services"]
    assert {"router", "postgres", "redis", "prometheus", "grafana"} <= set(services)
    router_env = services["router"]["environment"]
    assert router_env["DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert router_env["REDIS_URL"].startswith("redis://redis:")
    mounts = {m["target"]: Path(m["source"]) for s in ("prometheus", "grafana")
              for m in _volumes(services[s]) if m["type"] == "bind"}
    assert mounts["/etc/prometheus/prometheus.yml"] == PROMETHEUS_DIR / "prometheus.yml"
    assert mounts["/etc/prometheus/alerts.yml"] == PROMETHEUS_DIR / "alerts.yml"
    assert mounts["/etc/grafana/provisioning"] == GRAFANA_DIR / "provisioning"
    assert mounts["/var/lib/grafana/dashboards"] == GRAFANA_DIR / "dashboards"
    assert all(path.exists() for path in mounts.values())


def _volumes(service: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for v in service.get("volumes", []):
        if isinstance(v, str):
            source, target, *_ = v.split(":")
            out.append({"type": "bind" if source.startswith(("/", ".")) else "volume",
                        "source": source, "target": target})
        else:
            out.append(v)
    return out


def test_grafana_provisioning_points_at_the_dashboard_and_its_datasource() -> None:
    datasource = yaml.safe_load((GRAFANA_DIR / "provisioning/datasources/prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    provider = yaml.safe_load((GRAFANA_DIR / "provisioning/dashboards/llm-router.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    titles = {p["title"] for p in dashboard["panels"]}
    assert {"Provider Performance (Last 24h)", "Cost Analysis (Last 30 days)"} <= titles
    assert panels and all(p["datasource"]["uid"] == uid for p in panels)
    assert all(t["datasource"]["uid"] == uid and t["expr"].strip() for p in panels for t in p["targets"])
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


@pytest.mark.slow
def test_dockerfile_build_steps_install_a_working_service(tmp_path: Path) -> None:
    """The build stage's commands in a fresh venv; then the image's CMD and HEALTHCHECK."""
    build, runtime = dockerfile.parse(ROOT / "Dockerfile")
    assert build.base == runtime.base and build.base.endswith("-slim")
    assert runtime.args("USER") and runtime.args("USER")[-1] not in {"root", "0"}
    assert runtime.args("HEALTHCHECK") and runtime.args("CMD")
    image = dockerfile.ImageRoot(tmp_path / "root", dockerfile.absolute_paths([build, runtime]))
    shims = tmp_path / "shims"
    shims.mkdir()
    (shims / "python").symlink_to(sys._base_executable)  # the base image's `python`
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = f"{shims}:/usr/local/bin:/usr/bin:/bin"
    dockerfile.run_stage(build, image, env, timeout=900)

    port = free_port()
    run_env = dict(env)
    # the runtime stage's ENV, COPY and WORKDIR; its RUN only adds the user and /data
    workdir = dockerfile.run_stage(runtime, image, run_env, timeout=60, commands=False)
    image.local("/data").mkdir(parents=True, exist_ok=True)
    run_env.update(ROUTER_HOST="127.0.0.1", ROUTER_PORT=str(port))  # tests listen on loopback only
    run_env.pop("ROUTER_MASTER_KEY", None)
    assert Path(run_env["PATH"].split(":")[0], "llm-router").exists()
    cmd = dockerfile.exec_form(runtime.args("CMD")[-1])
    log = tmp_path / "service.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=workdir, env=run_env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc, timeout=60)
        healthcheck = runtime.args("HEALTHCHECK")[-1].split(" CMD ", 1)[1]
        probe = subprocess.run(["sh", "-c", healthcheck], env=run_env, timeout=30)
        assert probe.returncode == 0
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert "llm_router_circuit_state" in metrics.text
        health = httpx.get(f"http://127.0.0.1:{port}/api/brain/ai-assistant/analytics/health", timeout=10)
        assert len(health.json()["providers"]) == 12
    except BaseException:
        print(log.read_text()[-4000:])
        raise
    finally:
        code = stop(proc)
    assert code == 0, log.read_text()[-4000:]
    assert (image.local("/data") / "router.db").exists(), "the SQLite store lives in the data volume"
