"""Running the simulator: in the foreground (CLI), in a background thread, or as a child process."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import uvicorn

from app.api.http_protocol import ProviderHttpToolsProtocol
from app.config.catalog import Catalog
from app.simulator.app import ProfileSource, SimulatorApp, create_simulator_app
from app.simulator.providers import simulated_base_url, simulated_catalog

_GRACEFUL_SHUTDOWN_S = 2
_START_TIMEOUT_S = 15.0


class SimulatorUvicorn(uvicorn.Server):
    """A uvicorn server that releases hanging requests before it waits for connections to close."""

    def __init__(self, config: uvicorn.Config, app: SimulatorApp) -> None:
        super().__init__(config)
        self.simulator = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.simulator.state.stopping.set()
        await super().shutdown(sockets)


def _config(app: SimulatorApp, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        http=ProviderHttpToolsProtocol,  # a whole answer in one write, each stream chunk in its own
        timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_S,
    )


def run_simulator(
    app: SimulatorApp, *, host: str = "127.0.0.1", port: int = 8100, log_level: str = "info"
) -> None:
    """Serve in the foreground until interrupted."""
    SimulatorUvicorn(_config(app, host, port, log_level), app).run()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (for a child process that binds it itself)."""
    with contextlib.closing(_bind(host, 0)) as sock:
        return int(sock.getsockname()[1])


class _UrlMixin:
    url: str

    def base_url(self, provider: str, real_base_url: str | None = None) -> str:
        """The simulated base URL of a provider: url + /{provider} + the path of its real base URL."""
        return simulated_base_url(self.url, provider, real_base_url)

    def catalog(self, catalog: Catalog) -> Catalog:
        """The catalog with every base URL pointed at this simulator."""
        return simulated_catalog(catalog, self.url)

    def configure(self, provider: str, **settings: Any) -> dict[str, Any]:
        """Replace a provider's fault settings (no arguments restores health)."""
        response = httpx.put(f"{self.url}/_control/providers/{provider}", json=settings, timeout=5)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def stats(self) -> dict[str, Any]:
        """Requests per provider and outcome."""
        response = httpx.get(f"{self.url}/_control/stats", timeout=5)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def reset(self) -> None:
        """Back to the start-up profile, counters cleared, draws re-seeded."""
        httpx.post(f"{self.url}/_control/reset", timeout=5).raise_for_status()


class SimulatorServer(_UrlMixin):
    """The simulator on a loopback port (free by default) in a background thread; a context manager."""

    def __init__(
        self,
        profile: ProfileSource = None,
        seed: int = 0,
        *,
        catalog: Catalog | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
    ) -> None:
        self.app = create_simulator_app(profile, seed, catalog=catalog)
        self.host = host
        self._port = port
        self._log_level = log_level
        self._server: SimulatorUvicorn | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> Self:
        """Bind, serve in a daemon thread, and return once it accepts connections."""
        sock = _bind(self.host, self._port)
        port = int(sock.getsockname()[1])
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{port}"
        self._server = SimulatorUvicorn(_config(self.app, self.host, port, self._log_level), self.app)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"llm-router-simulator:{port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the simulator did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving: hanging requests are reset, the thread joined."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=_GRACEFUL_SHUTDOWN_S + 5)
        self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class SimulatorProcess(_UrlMixin):
    """The simulator as a child process (`llm-router simulator`), for benchmarks and the demo."""

    def __init__(
        self,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        seed: int = 0,
        profile: str | Path | None = None,
        log_level: str = "warning",
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        self._argv = [
            sys.executable,
            "-m",
            "app.cli",
            "simulator",
            "--host",
            host,
            "--port",
            str(self.port),
            "--seed",
            str(seed),
            "--log-level",
            log_level,
        ]
        if profile is not None:
            self._argv += ["--profile", str(profile)]
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The running simulator's process id (None before start and after stop)."""
        return self._process.pid if self._process is not None else None

    def start(self) -> Self:
        """Spawn the process and return once its control API answers."""
        root = Path(__file__).resolve().parents[2]
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
        }
        self._process = subprocess.Popen(self._argv, env=env)  # noqa: S603 (our own interpreter and module)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"the simulator exited with code {self._process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/_control/stats", timeout=1).status_code == 200:
                    return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the simulator did not answer on {self.url}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Terminate the process (SIGTERM, then SIGKILL after a grace period)."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=_GRACEFUL_SHUTDOWN_S + 5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
