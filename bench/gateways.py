"""The gateways of bench/compare_litellm.py as child processes: LiteLLM's proxy from its own virtual
environment (installed there on first use, never into the project's), our `llm-router serve`, and the
bare FastAPI pass-through the issue takes as its reference, each pointed at one provider simulator;
plus the process-tree RSS and port timing they share.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
LITELLM_SPEC = "litellm[proxy]==1.108.7"
LITELLM_VENV = ROOT / ".bench-venvs" / "litellm"
LITELLM_DEFAULT_MASTER_KEY = "sk-1234"  # the one in LiteLLM's docs, which its proxy refuses
# What LiteLLM's proxy gets from our environment: nothing that would point it at a database or a cache.
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")


# --- LiteLLM's virtual environment and config ---------------------------------------------------

def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_litellm_venv(venv: Path = LITELLM_VENV, spec: str = LITELLM_SPEC, *,
                        python: str = sys.executable) -> Path:
    """Create `venv` and install `spec` into it unless it is already there; returns its litellm CLI."""
    cli = venv / "bin" / "litellm"
    if cli.exists() and installed_version(venv, "litellm") == spec.partition("==")[2]:
        return cli
    if not venv_python(venv).exists():
        print(f"creating {venv} (LiteLLM's proxy, not a dependency of the project)", file=sys.stderr)
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
    print(f"installing {spec} into {venv}", file=sys.stderr)
    subprocess.run([str(venv_python(venv)), "-m", "pip", "install", "-q", spec], check=True)
    return cli


def installed_version(venv: Path, package: str) -> str | None:
    """A package's version in another virtual environment (None when it is not installed)."""
    code = f"import importlib.metadata as m; print(m.version({package!r}))"
    done = subprocess.run([str(venv_python(venv)), "-c", code], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def litellm_config(model: str, api_base: str, api_key: str, master_key: str) -> dict[str, Any]:
    """LiteLLM proxy config: one OpenAI-compatible deployment named like ours, telemetry off, a master key."""
    if not master_key or master_key == LITELLM_DEFAULT_MASTER_KEY:
        raise ValueError("LiteLLM's proxy needs a master key other than its documented default")
    if not master_key.startswith("sk-"):
        raise ValueError("LiteLLM's master key must start with sk-")
    upstream_model = model.partition("/")[2] or model
    return {
        "model_list": [{
            "model_name": model,
            "litellm_params": {"model": f"openai/{upstream_model}", "api_base": api_base,
                               "api_key": api_key},
        }],
        "litellm_settings": {"telemetry": False, "set_verbose": False},
        "general_settings": {"master_key": master_key},
    }


def write_litellm_config(path: Path, config: Mapping[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")
    return path


def litellm_env(environ: Mapping[str, str]) -> dict[str, str]:
    """A clean environment: offline cost map, telemetry and its log noise off, no DATABASE_URL."""
    env = {k: v for k, v in environ.items() if k in PASSED_THROUGH}
    env |= {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False", "LITELLM_LOG": "ERROR",
            "LITELLM_MODE": "PRODUCTION", "PYTHONUNBUFFERED": "1"}
    return env


def litellm_command(cli: Path, config: Path, port: int, workers: int) -> list[str]:
    return [str(cli), "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
            "--num_workers", str(workers)]


def passthrough_command(port: int, workers: int) -> list[str]:
    """bench/passthrough_app.py under uvicorn: the issue's reference, a bare FastAPI pass-through."""
    return [sys.executable, "-m", "uvicorn", "bench.passthrough_app:create_passthrough_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level", "warning",
            "--no-access-log"]


def passthrough_env(environ: Mapping[str, str], upstream: str) -> dict[str, str]:
    """The pass-through on aiohttp's client (the issue's "bare FastAPI pass-through on aiohttp")."""
    env = {k: v for k, v in environ.items() if k in PASSED_THROUGH}
    return env | {"PASSTHROUGH_UPSTREAM": upstream, "PASSTHROUGH_CLIENT": "aiohttp"}


def ours_command(port: int, workers: int) -> list[str]:
    return [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--log-level", "warning"]


# --- processes ----------------------------------------------------------------------------------

@dataclass
class Gateway:
    """A started gateway: its process, and seconds from spawn until the port accepted a connection."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    workers: int
    port_open_s: float

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def spawn(name: str, cmd: list[str], env: Mapping[str, str], port: int, workers: int, log: Path,
          timeout_s: float = 120.0) -> Gateway:
    """Start `cmd` (its own session, so its workers stop with it) and time it until `port` accepts."""
    with log.open("ab") as out:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, env=dict(env), cwd=ROOT, stdout=out, stderr=out, start_new_session=True)
    opened = wait_port(port, t0, timeout_s, proc)
    return Gateway(name, proc, port, workers, opened - t0)


def wait_port(port: int, t0: float, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> float:
    """The monotonic time at which 127.0.0.1:port first accepted a connection."""
    while time.monotonic() - t0 < timeout_s:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before opening port {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return time.monotonic()
        time.sleep(0.01)
    raise RuntimeError(f"port {port} did not open within {timeout_s:.0f} s")


def stop_gateway(gateway: Gateway, timeout_s: float = 15.0) -> None:
    """SIGTERM the gateway's process group, then SIGKILL what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(gateway.proc.pid, signal.SIGTERM)
    try:
        gateway.proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(gateway.proc.pid, signal.SIGKILL)
        gateway.proc.wait(timeout=5)


def children(pid: int, proc_root: Path = Path("/proc")) -> list[int]:
    """Direct children of a process, from /proc/PID/stat of every process (ppid is field 4)."""
    found = []
    for entry in proc_root.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces and parentheses
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def process_tree(pid: int, proc_root: Path = Path("/proc")) -> list[int]:
    """The process and all its descendants."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children(current, proc_root))
    return tree


def rss_kib(pid: int, proc_root: Path = Path("/proc")) -> int:
    """VmRSS of one process in KiB (0 when it is gone or a zombie)."""
    try:
        lines = (proc_root / str(pid) / "status").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass(frozen=True)
class TreeMemory:
    processes: int
    total_mib: float
    largest_mib: float


def tree_rss(pid: int, proc_root: Path = Path("/proc")) -> TreeMemory:
    """RSS summed over a process and its descendants (shared pages count once per process)."""
    sizes = [rss_kib(p, proc_root) for p in process_tree(pid, proc_root)]
    live = [s for s in sizes if s > 0]
    return TreeMemory(len(live), sum(live) / 1024, max(live, default=0) / 1024)


def without(environ: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    drop = set(names)
    return {k: v for k, v in environ.items() if k not in drop}
