"""Headless Chromium driven over the DevTools protocol (aiohttp's websocket client): open a page,
wait for a JavaScript condition, read values from the page and take a screenshot."""

from __future__ import annotations

import asyncio
import base64
import itertools
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--window-size=1000,640")


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Chromium:
    """A fresh Chromium (own profile directory) with its DevTools endpoint; a context manager."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        # Chromium's helper processes may still write into the profile as the parent exits.
        self.profile = tempfile.TemporaryDirectory(prefix="llm-router-chromium-", ignore_cleanup_errors=True)
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def __enter__(self) -> Self:
        self.process = subprocess.Popen(
            [self.binary, *FLAGS, f"--user-data-dir={self.profile.name}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Chromium writes the port it chose (port 0 asked for a free one) into the profile.
        active = Path(self.profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (active.exists() and active.read_text().strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.05)
        self.port = int(active.read_text().split()[0])
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.profile.cleanup()

    def visit(self, url: str, *, until: str, timeout_s: float, read: dict[str, str],
              screenshot: Path) -> dict[str, Any]:
        """Load `url`, wait until the JS expression `until` is true, return `read`'s values, screenshot."""
        return asyncio.run(self._visit(url, until, timeout_s, read, screenshot))

    async def _visit(self, url: str, until: str, timeout_s: float, read: dict[str, str],
                     screenshot: Path) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{self.port}/json/list") as response:
                targets = await response.json()
            page = next(t for t in targets if t["type"] == "page")
            async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                ids = itertools.count(1)

                async def call(method: str, **params: Any) -> dict[str, Any]:
                    ident = next(ids)
                    await ws.send_json({"id": ident, "method": method, "params": params})
                    while True:
                        message = await ws.receive_json()
                        if message.get("id") == ident:
                            if "error" in message:
                                raise RuntimeError(f"{method}: {message['error']}")
                            result: dict[str, Any] = message["result"]
                            return result

                async def evaluate(expression: str) -> Any:
                    answer = await call("Runtime.evaluate", expression=expression, returnByValue=True)
                    return answer["result"].get("value")

                await call("Page.enable")
                await call("Page.navigate", url=url)
                deadline = time.monotonic() + timeout_s
                while not await evaluate(until):
                    if time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.05)
                values = {name: await evaluate(expression) for name, expression in read.items()}
                shot = await call("Page.captureScreenshot", format="png")
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                screenshot.write_bytes(base64.b64decode(shot["data"]))
                return values
