"""bench/compare_litellm.py's parts that need no install and no network: LiteLLM's generated config and
environment, our service's environment, SSE parsing for time to first token, RSS summed over a process
tree, and the result tables and goals rendered from given numbers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench import compare_report as report
from bench import gateways
from bench.compare_litellm import figures, has_content, merged, ours_env, round_ratios
from bench.loadgen import LoadResult
from bench.rawload import Driven


def test_litellm_config_points_one_deployment_named_like_ours_at_the_upstream(tmp_path: Path) -> None:
    config = gateways.litellm_config("openai/gpt-4o-mini", "http://127.0.0.1:9/openai/v1", "sk-up", "sk-m1")
    path = gateways.write_litellm_config(tmp_path / "litellm.yaml", config)
    loaded = yaml.safe_load(path.read_text())
    [deployment] = loaded["model_list"]
    assert deployment["model_name"] == "openai/gpt-4o-mini"  # the body both gateways get names it so
    assert deployment["litellm_params"] == {"model": "openai/gpt-4o-mini",
                                            "api_base": "http://127.0.0.1:9/openai/v1", "api_key": "sk-up"}
    assert loaded["general_settings"]["master_key"] == "sk-m1"
    assert loaded["litellm_settings"]["telemetry"] is False
    bare = gateways.litellm_config("gpt-4o-mini", "http://u", "k", "sk-m1")
    assert bare["model_list"][0]["litellm_params"]["model"] == "openai/gpt-4o-mini"


@pytest.mark.parametrize("key", ["sk-1234", "", "bench-key"])
def test_litellm_config_refuses_the_documented_default_and_malformed_master_keys(key: str) -> None:
    with pytest.raises(ValueError, match="master key"):
        gateways.litellm_config("openai/gpt-4o-mini", "http://u", "k", key)


def test_litellm_env_is_offline_quiet_and_never_sees_our_database() -> None:
    env = gateways.litellm_env({"PATH": "/bin", "HOME": "/root", "DATABASE_URL": "postgresql://x",
                                "REDIS_URL": "redis://x", "ROUTER_MASTER_KEY": "secret"})
    assert env["PATH"] == "/bin" and env["HOME"] == "/root"
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert env["LITELLM_TELEMETRY"] == "False"
    assert not {"DATABASE_URL", "REDIS_URL", "ROUTER_MASTER_KEY"} & env.keys()


def test_commands_listen_on_loopback_with_the_same_workers(tmp_path: Path) -> None:
    theirs = gateways.litellm_command(tmp_path / "litellm", tmp_path / "c.yaml", 4001, 2)
    ours = gateways.ours_command(4002, 2)
    for cmd, port, flag in ((theirs, "4001", "--num_workers"), (ours, "4002", "--workers")):
        assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
        assert cmd[cmd.index("--port") + 1] == port
        assert cmd[cmd.index(flag) + 1] == "2"


def test_ours_env_replaces_database_and_catalog_and_sets_the_shared_master_key(tmp_path: Path) -> None:
    base = {"PATH": "/bin", "DATABASE_URL": "postgresql+asyncpg://prod/db", "REDIS_URL": "redis://x",
            "ROUTER_CONFIG": "/etc/catalog.yaml"}
    one = ours_env(tmp_path / "catalog.yaml", tmp_path, 1, base)
    assert one["DATABASE_URL"] == f"sqlite+aiosqlite:///{tmp_path}/router.db"
    assert one["ROUTER_CONFIG"] == str(tmp_path / "catalog.yaml")
    assert "REDIS_URL" not in one and "PROMETHEUS_MULTIPROC_DIR" not in one
    assert one["ROUTER_MASTER_KEY"].startswith("sk-") and one["ROUTER_MASTER_KEY"] != "sk-1234"
    two = ours_env(tmp_path / "c.yaml", tmp_path, 2, base)
    assert two["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / "metrics")
    scratch = "postgresql+asyncpg://postgres@127.0.0.1:5432/router_bench_1"
    assert ours_env(tmp_path / "c.yaml", tmp_path, 1, base, scratch)["DATABASE_URL"] == scratch


@pytest.mark.parametrize(("line", "expected"), [
    (b'data: {"choices": [{"delta": {"content": "Hel"}}]}\n', True),
    (b'data: {"choices": [{"delta": {"role": "assistant", "content": ""}}]}\n', False),
    (b'data: {"choices": [{"delta": {}, "finish_reason": "stop"}]}\n', False),
    (b'data: {"choices": [], "usage": {"total_tokens": 3}}\n', False),
    (b"data: [DONE]\n", False),
    (b"data: {not json\n", False),
    (b": keep-alive\n", False),
    (b"\n", False),
])
def test_first_token_is_the_first_chunk_with_text(line: bytes, expected: bool) -> None:
    assert has_content(line) is expected


def _fake_process(root: Path, pid: int, ppid: int, comm: str, rss_kib: int | None) -> None:
    d = root / str(pid)
    d.mkdir()
    (d / "stat").write_text(f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194560 0 0\n")
    status = f"Name:\t{comm}\nState:\tS (sleeping)\nPPid:\t{ppid}\n"
    if rss_kib is not None:  # a zombie has no VmRSS line
        status += f"VmRSS:\t{rss_kib} kB\n"
    (d / "status").write_text(status)


def test_tree_rss_sums_every_descendant_and_nothing_else(tmp_path: Path) -> None:
    _fake_process(tmp_path, 10, 1, "litellm", 100 * 1024)
    _fake_process(tmp_path, 11, 10, "python3 (worker) 1", 200 * 1024)  # spaces and parentheses in comm
    _fake_process(tmp_path, 12, 10, "python3", 50 * 1024)
    _fake_process(tmp_path, 13, 11, "sh", 2 * 1024)
    _fake_process(tmp_path, 14, 12, "defunct", None)
    _fake_process(tmp_path, 20, 1, "unrelated", 999 * 1024)
    (tmp_path / "self").mkdir()  # non-numeric entries are skipped
    assert sorted(gateways.process_tree(10, tmp_path)) == [10, 11, 12, 13, 14]
    mem = gateways.tree_rss(10, tmp_path)
    assert mem.processes == 4
    assert mem.total_mib == pytest.approx(352)
    assert mem.largest_mib == pytest.approx(200)
    assert gateways.tree_rss(11, tmp_path).total_mib == pytest.approx(202)


def test_tree_rss_of_a_real_parent_includes_its_child() -> None:
    child_code = "import time; b = bytearray(40 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(30)"
    parent_code = ("import subprocess, sys, time; "
                   f"subprocess.Popen([sys.executable, '-c', {child_code!r}]); time.sleep(30)")
    parent = subprocess.Popen([sys.executable, "-c", parent_code], start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        tree = gateways.process_tree(parent.pid)
        while (len(tree) < 2 or gateways.rss_kib(tree[-1]) < 40 * 1024) and time.monotonic() < deadline:
            time.sleep(0.05)
            tree = gateways.process_tree(parent.pid)
        assert len(tree) == 2
        mem = gateways.tree_rss(parent.pid)
        assert mem.processes == 2
        assert mem.total_mib > gateways.rss_kib(parent.pid) / 1024 + 40
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()


Figures = tuple[float, float, float]  # req/s, p50 ms, p99 ms


def _load(c: int, direct: tuple[float, float], ours: Figures, theirs: Figures,
          bare: Figures | None = None) -> dict[str, Any]:
    more = {} if bare is None else {
        report.PASSTHROUGH: {"rps": bare[0], "p50_ms": bare[1], "p99_ms": bare[2], "errors": 0,
                             "driver_cpu_us": 90}}
    targets = report.with_added({
        report.DIRECT: {"rps": direct[0], "p50_ms": direct[1], "p99_ms": direct[1] * 2, "errors": 0},
        **more,
        report.OURS: {"rps": ours[0], "p50_ms": ours[1], "p99_ms": ours[2], "errors": 0},
        report.LITELLM: {"rps": theirs[0], "p50_ms": theirs[1], "p99_ms": theirs[2], "errors": 3},
    })
    return {"concurrency": c, "targets": targets,
            "ours_over_litellm": report.ratio(targets[report.OURS]["rps"], targets[report.LITELLM]["rps"])}


def _report() -> dict[str, Any]:
    stream_targets = report.with_added({
        name: {"rps": rps, "ttft_p50_ms": p50, "ttft_p99_ms": p50 * 2, "p50_ms": p50, "p99_ms": p50,
               "errors": errors}
        for name, rps, p50, errors in ((report.DIRECT, 900, 0.5, 0), (report.OURS, 400, 1.25, 0),
                                       (report.LITELLM, 30, 20.0, 2))
    }, ("ttft_p50_ms",))
    load = [_load(1, (1000, 0.5), (420, 1.3, 3.0), (40, 25.0, 40.0), (600, 1.7, 2.5)),
            _load(16, (2000, 7.0), (600, 13.0, 30.0), (50, 300.0, 500.0), (900, 12.0, 20.0))]
    load[0]["ratio_rounds"] = [13.0, None, 8.0, 10.4]
    load[1]["ratio_rounds"] = [12.0]
    result: dict[str, Any] = {
        "settings": {"workers": 1, "seconds": 5.0, "model": "openai/gpt-4o-mini", "max_tokens": 64,
                     "command": report.command_line(["--seconds", "5"])},
        "load": load,
        "streaming": [{"concurrency": 1, "targets": stream_targets}],
        "startup": {report.OURS: {"port_open_s": 1.5, "first_answer_s": 1.6},
                    report.LITELLM: {"port_open_s": 12.0, "first_answer_s": 12.8}},
        "rss": {report.OURS: {"processes": 1, "total_mib": 140.0, "largest_mib": 140.0,
                              "per_worker_mib": 140.0},
                report.LITELLM: {"processes": 3, "total_mib": 700.0, "largest_mib": 300.0,
                                 "per_worker_mib": 350.0}},
        "machine": {"date_utc": "2026-11-26 11:50", "cpu": "Test CPU", "cores": 2,
                    "load_average": [1.0, 1.0, 1.0],
                    "python": "3.11.7", "commit": "abc1234",
                    "ours": {"smart-llm-router": "0.1.0", "fastapi": "0.1", "uvicorn": "0.2"},
                    "litellm_venv": {"litellm": "1.108.7", "fastapi": "0.3", "uvicorn": "0.4"}},
    }
    result["goals"] = report.goals(result)
    return result


def test_added_latency_and_ratio_come_from_the_same_run() -> None:
    row = _load(1, (1000, 0.5), (420, 1.3, 3.0), (40, 25.0, 40.0))
    assert row["targets"][report.OURS]["added_p50_ms"] == pytest.approx(0.8)
    assert row["targets"][report.OURS]["added_p99_ms"] == pytest.approx(2.0)
    assert row["targets"][report.LITELLM]["added_p50_ms"] == pytest.approx(24.5)
    assert "added_p50_ms" not in row["targets"][report.DIRECT]
    assert row["ours_over_litellm"] == pytest.approx(10.5)
    assert report.ratio(5.0, 0.0) is None


def test_summary_counts_rate_and_nearest_rank_percentiles() -> None:
    s = report.summary(200, 1, 4.0, [float(i) for i in range(1, 201)])
    assert s["rps"] == 50.0
    assert s["p50_ms"] == 101.0 and s["p99_ms"] == 199.0
    assert report.summary(0, 0, 0.0, [])["p50_ms"] is None


def test_goals_are_judged_against_the_issues_thresholds() -> None:
    verdicts = {g["goal"]: g["met"] for g in _report()["goals"]}
    assert verdicts["req/s >= 10x LiteLLM's, same workers, concurrency 1"] is True  # 10.5x
    assert verdicts["req/s >= 10x LiteLLM's, same workers, concurrency 16"] is True  # 12x
    assert verdicts["added p50 < 1 ms at concurrency 1"] is True  # 0.8 ms
    assert verdicts["added p50 < 5 ms at concurrency 16"] is False  # 6 ms
    assert verdicts["RSS <= 150 MiB per worker after the load"] is True
    assert verdicts["port open within 2 s of start"] is True
    # The pass-through adds 1.2 ms at concurrency 1 in this run, twice the issue's 0.6 ms: a machine
    # half as fast, so the latency goals scale to 2 ms and 10 ms, and 6 ms at 16 meets the latter.
    scaled = [g for g in _report()["goals"] if "pass-through's added p50" in g["goal"]]
    assert [(g["goal"].endswith("concurrency 1"), g["met"]) for g in scaled] == [(True, True), (False, True)]
    assert "= 2 ms here" in scaled[0]["goal"] and "= 10 ms here" in scaled[1]["goal"]
    no_reference = _report()
    del no_reference["load"][0]["targets"][report.PASSTHROUGH]
    assert not [g for g in report.goals(no_reference) if "pass-through" in g["goal"]]
    slow = _report()
    slow["startup"][report.OURS]["port_open_s"] = 2.5
    slow["rss"][report.OURS]["per_worker_mib"] = 151.0
    verdicts = {g["goal"]: g["met"] for g in report.goals(slow)}
    assert verdicts["port open within 2 s of start"] is False
    assert verdicts["RSS <= 150 MiB per worker after the load"] is False


def test_markdown_tables_carry_the_figures() -> None:
    text = report.render(_report())
    lines = text.splitlines()
    assert "| 1 | 1000 (0.50 / 1.00) | 600, +1.20 / +1.50 | 420, +0.80 / +2.00 | 40, +24.50 / +39.00 " \
        "| **10.5x** (3 rounds: 8.0-13.0x) | 0 / 3 |" in lines
    assert "| 16 | 2000 (7.00 / 14.00) | 900, +5.00 / +6.00 | 600, +6.00 / +16.00 | 50, +293.00 / +486.00 " \
        "| **12.0x** | 0 / 3 |" in lines
    assert "bare FastAPI pass-through 90" in text  # the driver's CPU per request, by target
    assert "Each target's own CPU" not in text  # not measured in this run
    measured = _report()
    for row in measured["load"]:
        for name, fig in row["targets"].items():
            fig["server_cpu_us"] = {report.OURS: 950, report.PASSTHROUGH: 640}.get(name)
    measured["machine"]["python_loop_s"] = {"start": 1.52, "end": 0.93}
    rendered = report.render(measured).splitlines()
    assert any("a 10-million-step Python loop took 1.52 s at the start and 0.93 s at the end" in line
               for line in rendered)
    assert "Python loop" not in text  # a run from before the loop was measured
    own = next(line for line in rendered if line.startswith("Each target's own CPU"))
    assert "concurrency 1: simulator (direct) n/a, bare FastAPI pass-through 640, smart-llm-router 950" in own
    assert "ours includes its SQLite writer process" in own
    measured["settings"]["store"] = "postgres"  # no writer process then
    assert "writer process" not in next(line for line in report.render(measured).splitlines()
                                        if line.startswith("Each target's own CPU"))
    assert "| 1 | 0.50 / 1.00 | 1.25 / 2.50 (+0.75) | 20.00 / 40.00 (+19.50) | 400 / 30 | 0 / 2 |" in lines
    assert "| smart-llm-router | 1 | 1.50 s | 1.60 s | 140 MiB (1 process) | 140 MiB | 140 MiB |" in lines
    assert "| LiteLLM proxy | 1 | 12.00 s | 12.80 s | 700 MiB (3 processes) | 300 MiB | 350 MiB |" in lines
    assert "| added p50 < 5 ms at concurrency 16 | 6.0 ms | **no** |" in lines
    assert "| added p50 < 1 ms at concurrency 1 | 0.8 ms | yes |" in lines
    assert "into SQLite (the embedded default)" in text  # a run of before the option says so too
    assert "Test CPU, 2 cores" in text and "litellm 1.108.7" in text and "commit abc1234" in text
    assert "`.venv/bin/python bench/compare_litellm.py --seconds 5`" in text


def test_slices_add_up_and_each_round_gets_its_own_ratio() -> None:
    ours = [Driven(LoadResult(400, 0, 1.0, [1.0] * 400), [0.5], 0.04),
            Driven(LoadResult(300, 1, 1.5, [2.0] * 300), [0.7, 0.9], 0.03)]
    theirs = [Driven(LoadResult(40, 0, 1.0, [20.0] * 40)), Driven(LoadResult(0, 0, 1.2, []))]
    total = merged(ours)
    assert (total.result.requests, total.result.errors, total.result.seconds) == (700, 1, 2.5)
    assert sorted(total.result.latencies_ms) == [1.0] * 400 + [2.0] * 300
    assert total.first_token_ms == [0.5, 0.7, 0.9]
    assert total.cpu_s == pytest.approx(0.07)
    assert figures(total)["driver_cpu_us"] == 100  # 0.07 s over 700 requests
    assert ours[0].result.requests == 400  # the slices themselves are left as they were
    assert round_ratios(ours, theirs) == [10.0, None]  # LiteLLM answered nothing in the second round
    assert merged([]) == Driven(LoadResult(0, 0, 0.0, []))
    assert figures(merged([]))["driver_cpu_us"] is None
    assert figures(total)["server_cpu_us"] is None  # no slice measured the target's CPU


def test_the_targets_own_cpu_adds_up_over_its_slices() -> None:
    parts = [Driven(LoadResult(400, 0, 1.0, [1.0] * 400), [], 0.04, 0.3),
             Driven(LoadResult(600, 0, 1.0, [1.0] * 600), [], 0.06, 0.4)]
    total = merged(parts)
    assert total.server_cpu_s == pytest.approx(0.7)
    assert figures(total)["server_cpu_us"] == 700  # 0.7 s over 1,000 requests


def test_the_python_loop_times_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop's seconds grow with its steps and go into the machine's description."""
    assert 0 < report.python_loop_s(200_000) < report.python_loop_s(4_000_000)
    monkeypatch.setattr(report, "python_loop_s", lambda: 1.25)
    described = report.machine({"litellm": "1.108.7"}, 1.5)
    assert described["python_loop_s"] == {"start": 1.5, "end": 1.25}
