"""The service as a real `llm-router serve` subprocess (uvicorn) on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_service(env: Mapping[str, str], log_path: Path, *, new_session: bool = False
                  ) -> tuple[subprocess.Popen[bytes], int]:
    """Start `llm-router serve` on a free loopback port; wait until /health answers.
    `new_session`: its own process group (os.killpg(proc.pid, ...) signals it and its children)."""
    port = free_port()
    log = log_path.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=new_session,
    )
    log.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited with {proc.returncode}: {log_path.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc, port
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"the service did not answer within 30 s: {log_path.read_text()}")
