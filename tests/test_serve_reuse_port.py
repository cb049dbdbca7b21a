"""`llm-router serve --reuse-port`: a new service starts on the port of one still serving, and the
old one's SIGTERM then refuses (next to) no connection, where a stop and a start would refuse every
connection for the new one's whole start-up."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.listening import listens
from tests.store.server import free_port

ROOT = Path(__file__).resolve().parents[1]


def spawn(port: int, tmp_path: Path, name: str, *extra: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "ROUTER_MASTER_KEY")}
    env |= {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / name}.db",
            "ROUTER_DATA_DIR": str(tmp_path / name)}
    with (tmp_path / f"{name}.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "warning", *extra], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def health(port: int) -> bool:
    """GET /health on a connection of its own; True on a 200 (OSError if refused or reset)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    if not reply:
        raise ConnectionResetError("closed without an answer")
    return reply.startswith(b"HTTP/1.1 200")


def wait_listening(proc: subprocess.Popen[bytes], port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not listens(proc.pid, port):
        assert proc.poll() is None, f"exited with {proc.returncode}"
        assert time.monotonic() < deadline, "never listened"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_new_service_takes_over_the_port_of_one_still_serving(tmp_path: Path) -> None:
    port = free_port()
    old = spawn(port, tmp_path, "old", "--reuse-port")
    new: subprocess.Popen[bytes] | None = None
    try:
        wait_listening(old, port)
        new = spawn(port, tmp_path, "new", "--reuse-port")
        wait_listening(new, port)
        assert listens(old.pid, port)
        answered, refused = [0], []
        stop = threading.Event()

        def probe() -> None:  # a new connection each time: the kernel picks either listener
            while not stop.is_set():
                try:
                    answered[0] += health(port)
                except OSError as exc:
                    refused.append(exc)

        prober = threading.Thread(target=probe)
        prober.start()
        time.sleep(0.5)
        before = answered[0]
        old.send_signal(signal.SIGTERM)
        assert old.wait(30) == 0
        time.sleep(1.0)
        stop.set()
        prober.join()
        assert before > 10 and answered[0] > before + 10, "answered before and after the SIGTERM"
        # A connection the kernel had queued on the old socket as it closed is reset (Linux moves
        # them only with net.ipv4.tcp_migrate_req=1): at most a stray one, not a start-up's worth.
        assert len(refused) <= 2, refused
        assert new.poll() is None and listens(new.pid, port) and not listens(old.pid, port)
    finally:
        for proc in (old, new):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)


def test_the_port_of_a_service_without_the_option_is_not_shared(tmp_path: Path) -> None:
    port = free_port()
    plain = spawn(port, tmp_path, "plain")
    try:
        wait_listening(plain, port)
        second = subprocess.run(
            [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--reuse-port"], cwd=ROOT, capture_output=True, text=True, timeout=60,
            env={**os.environ, "ROUTER_DATA_DIR": str(tmp_path / "second")})
        assert second.returncode == 2
        assert "cannot bind" in second.stderr and "without --reuse-port" in second.stderr
    finally:
        plain.send_signal(signal.SIGTERM)
        plain.wait(30)


def test_reuse_port_asks_for_one_worker() -> None:
    result = subprocess.run([sys.executable, "-m", "app.cli", "serve", "--reuse-port", "--workers", "2"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "one worker" in result.stderr
