"""Figures of bench/compare_litellm.py: summaries of a load run, the issue's goals, the machine it ran on,
and the Markdown tables written to bench/results/ (the same text is printed)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DIRECT, PASSTHROUGH, OURS, LITELLM = "simulator", "passthrough", "ours", "litellm"
LABELS = {DIRECT: "simulator (direct)", PASSTHROUGH: "bare FastAPI pass-through", OURS: "smart-llm-router",
          LITELLM: "LiteLLM proxy"}
# The goals (issue 9), with LiteLLM's figures measured here before we started.
GOAL_RATIO, GOAL_P50_C1_MS, GOAL_P50_C16_MS = 10.0, 1.0, 5.0
GOAL_RSS_PER_WORKER_MIB, GOAL_PORT_OPEN_S = 150.0, 2.0
# "a bare FastAPI pass-through on aiohttp adds about 0.6 ms here": the machine the goals were set on.
REFERENCE_PASSTHROUGH_C1_MS = 0.6
DRIVERS = {"raw": "bench/rawload.py (pre-encoded requests on kept-alive connections, httptools parsing)",
           "aiohttp": "aiohttp's client"}
STORES = {"sqlite": "SQLite (the embedded default)",
          "postgres": "PostgreSQL (a scratch database on this machine)"}


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1); None for no values."""
    if not values:
        return None
    data = sorted(values)
    return data[min(len(data) - 1, int(q * len(data)))]


def summary(requests: int, errors: int, seconds: float, latencies_ms: Sequence[float]) -> dict[str, Any]:
    return {"requests": requests, "errors": errors, "seconds": round(seconds, 3),
            "rps": round(requests / seconds, 1) if seconds else 0.0,
            "p50_ms": rounded(percentile(latencies_ms, 0.5)),
            "p99_ms": rounded(percentile(latencies_ms, 0.99))}


def with_added(targets: Mapping[str, dict[str, Any]], keys: Sequence[str] = ("p50_ms", "p99_ms"),
               ) -> dict[str, dict[str, Any]]:
    """Each gateway's figures plus `added_<key>`: its value minus the simulator's own in the same run."""
    direct = targets[DIRECT]
    out: dict[str, dict[str, Any]] = {}
    for name, figures in targets.items():
        extra = {}
        if name != DIRECT:
            for key in keys:
                mine, base = figures.get(key), direct.get(key)
                extra[f"added_{key}"] = (rounded(mine - base) if mine is not None and base is not None
                                         else None)
        out[name] = {**figures, **extra}
    return out


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def goals(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The issue's goals against this run's figures (met is None when the run lacks the figure)."""
    load = {row["concurrency"]: row for row in report["load"]}
    rss = report["rss"][OURS]
    startup = report["startup"][OURS]
    checks: list[tuple[str, float | None, str, bool | None]] = []
    for c, row in sorted(load.items()):
        r = row["ours_over_litellm"]
        checks.append((f"req/s >= {GOAL_RATIO:g}x LiteLLM's, same workers, concurrency {c}", r,
                       f"{r}x" if r is not None else "n/a", None if r is None else r >= GOAL_RATIO))
    for c, limit in ((1, GOAL_P50_C1_MS), (16, GOAL_P50_C16_MS)):
        if c in load:
            added = load[c]["targets"][OURS]["added_p50_ms"]
            checks.append((f"added p50 < {limit:g} ms at concurrency {c}", added,
                           f"{added} ms", None if added is None else added < limit))
    checks += against_passthrough(load)
    per_worker = rss["per_worker_mib"]
    checks.append((f"RSS <= {GOAL_RSS_PER_WORKER_MIB:g} MiB per worker after the load", per_worker,
                   f"{per_worker} MiB", per_worker <= GOAL_RSS_PER_WORKER_MIB))
    opened = startup["port_open_s"]
    checks.append((f"port open within {GOAL_PORT_OPEN_S:g} s of start", opened, f"{opened} s",
                   opened <= GOAL_PORT_OPEN_S))
    return [{"goal": goal, "measured": text, "met": met} for goal, _, text, met in checks]


def against_passthrough(load: Mapping[int, Mapping[str, Any]],
                         ) -> list[tuple[str, float | None, str, bool | None]]:
    """The latency goals set against the bare pass-through measured in the same run, for a machine
    slower or faster than the one the goals were set on: at concurrency 1 the issue's 1 ms where
    the pass-through adds 0.6 ms, a ratio of 1/0.6; at 16 the same ratio, applied to 5 ms."""
    checks: list[tuple[str, float | None, str, bool | None]] = []
    reference = load.get(1, {}).get("targets", {}).get(PASSTHROUGH, {}).get("added_p50_ms")
    if reference is None or reference <= 0:
        return checks
    scale = reference / REFERENCE_PASSTHROUGH_C1_MS
    for c, limit in ((1, GOAL_P50_C1_MS), (16, GOAL_P50_C16_MS)):
        if c not in load:
            continue
        added = load[c]["targets"][OURS]["added_p50_ms"]
        scaled = round(limit * scale, 2)
        checks.append((f"added p50 < {limit:g} ms x (pass-through's added p50 at concurrency 1 / "
                       f"{REFERENCE_PASSTHROUGH_C1_MS:g} ms) = {scaled:g} ms here, concurrency {c}", added,
                       f"{added} ms (pass-through at 1: {reference} ms)",
                       None if added is None else added < scaled))
    return checks


def python_loop_s(steps: int = 10_000_000) -> float:
    """Seconds this interpreter takes to add up `steps` integers in a plain loop: the machine's speed
    at that moment, to set runs of different days (or hours, on a shared VM) side by side."""
    t0 = time.perf_counter()
    total = 0
    for i in range(steps):
        total += i
    return round(time.perf_counter() - t0, 3)


def machine(litellm_versions: Mapping[str, str | None],
            loop_s_at_start: float | None = None) -> dict[str, Any]:
    """What the run ran on: CPU, cores, load, Python, package versions on both sides, commit, date,
    and the Python loop's seconds at the run's start (when given) and now."""
    def ours(package: str) -> str | None:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": git_commit(),
        "ours": {"smart-llm-router": ours("smart-llm-router"), "fastapi": ours("fastapi"),
                 "uvicorn": ours("uvicorn")},
        "litellm_venv": dict(litellm_versions),
        "python_loop_s": {"start": loop_s_at_start, "end": python_loop_s()},
    }


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> str | None:
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=False)
    return done.stdout.strip() or None


# --- Markdown -----------------------------------------------------------------------------------

def rounded(x: float | None, digits: int = 2) -> float | None:
    return None if x is None else round(x, digits)


def _num(x: float | None, fmt: str = "{:.2f}") -> str:
    return "n/a" if x is None else fmt.format(x)


def _added(t: Mapping[str, Any] | None) -> str:
    if t is None:
        return "n/a"
    return f"{t['rps']:.0f}, {_signed(t['added_p50_ms'])} / {_signed(t['added_p99_ms'])}"


def _signed(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.2f}"


def spread(ratios: Sequence[float | None] | None) -> str:
    """' (1 s rounds: 9.8-14.1x)' for the per-round ratios, or nothing when there are fewer than two."""
    known = [r for r in ratios or () if r is not None]
    if len(known) < 2:
        return ""
    return f" ({len(known)} rounds: {min(known):.1f}-{max(known):.1f}x)"


def render(report: Mapping[str, Any]) -> str:
    """The run as Markdown: machine, load, streaming, start-up and memory, goals."""
    m, s = report["machine"], report["settings"]
    lite = m["litellm_venv"]
    lines = [
        f"# Side by side with LiteLLM's proxy ({m['date_utc']} UTC)", "",
        f"Machine: {m['cpu']}, {m['cores']} cores, load average {' '.join(map(str, m['load_average']))} "
        f"at the end; Python {m['python']}; commit {m['commit']}.{_speed(m.get('python_loop_s'))}",
        f"Ours: smart-llm-router {m['ours']['smart-llm-router']} (fastapi {m['ours']['fastapi']}, "
        f"uvicorn {m['ours']['uvicorn']}). LiteLLM: litellm {lite.get('litellm')} proxy (fastapi "
        f"{lite.get('fastapi')}, uvicorn {lite.get('uvicorn')}) in its own virtual environment.",
        f"{s['workers']} worker(s) each; {s['seconds']:g} s per target and concurrency in interleaved 1 s "
        f"slices; same body for all (`{s['model']}`, max_tokens {s['max_tokens']}), same simulator "
        f"upstream; load from the benchmark's own process, separate from the gateways and the simulator, "
        f"by {DRIVERS.get(s.get('driver', 'aiohttp'), s.get('driver'))}. Ours records every decision and "
        f"its attempts into {STORES.get(s.get('store', 'sqlite'), s.get('store'))}; LiteLLM runs without a "
        "database.",
        f"Reproduce: `{s['command']}`.", "",
        "| concurrency | simulator direct req/s (p50 / p99 ms) | bare pass-through req/s, added p50 / p99 ms "
        "| ours req/s, added p50 / p99 ms | LiteLLM req/s, added p50 / p99 ms "
        "| ours / LiteLLM req/s (range over 1 s rounds) | errors ours / LiteLLM |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in report["load"]:
        t = row["targets"]
        d, o, li = t[DIRECT], t[OURS], t[LITELLM]
        lines.append(
            f"| {row['concurrency']} | {d['rps']:.0f} ({_num(d['p50_ms'])} / {_num(d['p99_ms'])}) "
            f"| {_added(t.get(PASSTHROUGH))} | {_added(o)} | {_added(li)} "
            f"| **{_num(row['ours_over_litellm'], '{:.1f}')}x**{spread(row.get('ratio_rounds'))} "
            f"| {o['errors']} / {li['errors']} |")
    lines += ["", "The load driver's own CPU per answered request (µs), by target: "
              + _per_request(report["load"], "driver_cpu_us") + "."]
    if any(fig.get("server_cpu_us") is not None for row in report["load"] for fig in row["targets"].values()):
        writer = "ours includes its SQLite writer process, " if s.get("store", "sqlite") == "sqlite" else ""
        lines += ["", f"Each target's own CPU per answered request (µs, its process tree; {writer}"
                  "the gateways exclude the simulator's): "
                  + _per_request(report["load"], "server_cpu_us") + "."]
    lines += ["", "Streaming (`stream: true`), time to the first content token:", "",
              "| concurrency | simulator direct TTFT p50 / p99 ms | ours TTFT p50 / p99 ms (added p50) "
              "| LiteLLM TTFT p50 / p99 ms (added p50) | streams/s ours / LiteLLM | errors ours / LiteLLM |",
              "|---|---|---|---|---|---|"]
    for row in report["streaming"]:
        t = row["targets"]
        d, o, li = t[DIRECT], t[OURS], t[LITELLM]
        lines.append(
            f"| {row['concurrency']} | {_num(d['ttft_p50_ms'])} / {_num(d['ttft_p99_ms'])} "
            f"| {_num(o['ttft_p50_ms'])} / {_num(o['ttft_p99_ms'])} ({_signed(o['added_ttft_p50_ms'])}) "
            f"| {_num(li['ttft_p50_ms'])} / {_num(li['ttft_p99_ms'])} ({_signed(li['added_ttft_p50_ms'])}) "
            f"| {o['rps']:.0f} / {li['rps']:.0f} | {o['errors']} / {li['errors']} |")
    lines += ["", "| gateway | workers | port open after start | first answer after start "
              "| RSS after the load (sum over processes) | largest process | per worker (sum / workers) |",
              "|---|---|---|---|---|---|---|"]
    for name in (OURS, LITELLM, PASSTHROUGH):
        if name not in report["startup"]:
            continue
        st, mem = report["startup"][name], report["rss"][name]
        lines.append(f"| {LABELS[name]} | {s['workers']} | {st['port_open_s']:.2f} s | "
                     f"{st['first_answer_s']:.2f} s | {mem['total_mib']:.0f} MiB ({mem['processes']} "
                     f"process{'es' if mem['processes'] != 1 else ''}) | {mem['largest_mib']:.0f} MiB "
                     f"| {mem['per_worker_mib']:.0f} MiB |")
    lines += ["", "| goal (issue 9) | measured | met |", "|---|---|---|"]
    for g in report["goals"]:
        met = "n/a" if g["met"] is None else ("yes" if g["met"] else "**no**")
        lines.append(f"| {g['goal']} | {g['measured']} | {met} |")
    return "\n".join(lines) + "\n"


def _speed(loop: Mapping[str, float | None] | None) -> str:
    """The machine's speed as the Python loop measured it (runs before it was measured say nothing)."""
    if not loop:
        return ""
    return (f" Machine speed: a 10-million-step Python loop took {_num(loop.get('start'), '{:.2f}')} s at "
            f"the start and {_num(loop.get('end'), '{:.2f}')} s at the end (more is slower).")


def _per_request(load: Sequence[Mapping[str, Any]], key: str) -> str:
    """One per-request figure of every target, concurrency by concurrency."""
    return "; ".join(f"concurrency {row['concurrency']}: "
                     + ", ".join(f"{LABELS[name]} {_num(fig.get(key), '{:.0f}')}"
                                 for name, fig in row["targets"].items())
                     for row in load)


def command_line(argv: Sequence[str] | None = None) -> str:
    args = list(sys.argv[1:] if argv is None else argv)
    return " ".join([".venv/bin/python bench/compare_litellm.py", *args])
