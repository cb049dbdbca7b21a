"""A browser front end (fetch + ReadableStream, as the design note's UI) reads a stream from the
service across origins and renders it; headless Chromium, checked over DevTools, screenshot kept."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.config.catalog import Catalog
from app.simulator import SimulatorServer
from tests.openai_compat.browser import Chromium, chromium_path
from tests.openai_compat.conftest import running

HERE = Path(__file__).parent
ARTIFACT = HERE.parents[1] / "test-artifacts" / "openai_compat" / "browser_stream.png"
QUESTION = "Explain in two sentences what a circuit breaker does"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def page_origin() -> Iterator[str]:
    """The front end's own origin: a static server for stream_page.html on a free loopback port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(HERE)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_a_browser_reads_and_renders_a_stream_across_origins(
    simulator: SimulatorServer, catalog: Catalog, tmp_path: Path, page_origin: str
) -> None:
    binary = chromium_path()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing: .ci/run installs the Debian package")
        pytest.skip("chromium is not installed (Debian package `chromium`)")
    simulator.reset()
    with running(simulator, catalog, tmp_path, ROUTER_CORS_ORIGINS=page_origin) as service:
        expected = service.client().chat.completions.create(
            model="auto", messages=[{"role": "user", "content": QUESTION}], extra_body={"budget": "low"})
        url = f"{page_origin}/stream_page.html?api={service.url}&q={QUESTION.replace(' ', '%20')}"
        with Chromium(binary) as browser:
            seen = browser.visit(url, until="document.body.dataset.state !== 'loading'", timeout_s=20,
                                 screenshot=ARTIFACT, read={
                                     "state": "document.body.dataset.state",
                                     "text": "document.getElementById('out').textContent",
                                     "provider": "document.getElementById('provider').textContent",
                                     "chunks": "Number(document.getElementById('chunks').textContent)",
                                 })
    assert seen["state"] == "done", seen
    assert seen["text"] == expected.choices[0].message.content  # every delta arrived, in order
    assert f"{seen['provider']}/" in expected.model  # the exposed x-router-provider header was readable
    assert seen["chunks"] > 5  # rendered as a stream of pieces, not one body
    assert ARTIFACT.stat().st_size > 5_000
