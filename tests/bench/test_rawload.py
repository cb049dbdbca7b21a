"""bench/rawload.py against a real HTTP server on a loopback port: what it sends, what it counts as
answered or failed, times to the first streamed token, and connections the server closes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from bench.compare_litellm import has_content
from bench.rawload import drive_raw, request_bytes

Handler = Callable[[web.Request], Any]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Any]]:
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/v1/chat/completions"

    yield start
    for runner in runners:
        await runner.cleanup()


def test_the_request_is_encoded_once_with_its_body_and_headers() -> None:
    host, port, raw = request_bytes("http://127.0.0.1:8123/v1/x?a=1", {"model": "m"},
                                    {"authorization": "Bearer k"})
    head, _, body = raw.partition(b"\r\n\r\n")
    assert (host, port) == ("127.0.0.1", 8123)
    assert head.startswith(b"POST /v1/x?a=1 HTTP/1.1\r\n")
    assert b"\r\nContent-Length: 13\r\n" in head and b"\r\nauthorization: Bearer k" in head
    assert json.loads(body) == {"model": "m"}
    with pytest.raises(ValueError, match="plain http"):
        request_bytes("https://example.test/", None)


async def test_answered_requests_are_counted_with_their_latencies_and_the_drivers_cpu(serve: Any) -> None:
    seen: list[tuple[dict[str, Any], str]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((await request.json(), request.headers["authorization"]))
        return web.json_response({"ok": True})

    url = await serve(handler)
    driven = await drive_raw(url, {"model": "m"}, concurrency=3, seconds=0.3, warmup_s=0.05,
                             headers={"authorization": "Bearer k"})
    r = driven.result
    assert r.errors == 0 and r.requests > 10
    assert len(r.latencies_ms) == r.requests and all(ms > 0 for ms in r.latencies_ms)
    assert len(seen) >= r.requests  # the warm-up's requests come on top
    assert seen[0] == ({"model": "m"}, "Bearer k")
    assert driven.cpu_s > 0 and not driven.first_token_ms


async def test_the_targets_cpu_is_read_around_the_measured_part_only(serve: Any) -> None:
    """`server_cpu` is read once when the measured part starts (after the warm-up) and once when it
    ends; without it there is no figure."""
    reads: list[int] = []

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    def server_cpu() -> float:
        reads.append(len(reads))
        return [2.0, 2.75][len(reads) - 1]

    url = await serve(handler)
    driven = await drive_raw(url, {}, concurrency=2, seconds=0.2, warmup_s=0.05, server_cpu=server_cpu)
    assert reads == [0, 1] and driven.server_cpu_s == pytest.approx(0.75)
    assert driven.result.requests > 0
    plain = await drive_raw(url, {}, concurrency=1, seconds=0.1, warmup_s=0.0)
    assert plain.server_cpu_s is None


async def test_error_statuses_count_as_errors_not_answers(serve: Any) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"error": "no"}, status=503)

    driven = await drive_raw(await serve(handler), {}, concurrency=2, seconds=0.2, warmup_s=0.0)
    assert driven.result.requests == 0 and driven.result.errors > 0


async def test_a_closed_connection_is_reopened_and_the_loop_goes_on(serve: Any) -> None:
    peers: set[Any] = set()

    async def handler(request: web.Request) -> web.Response:
        peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        return web.json_response({"ok": True}, headers={"Connection": "close"})

    driven = await drive_raw(await serve(handler), {}, concurrency=1, seconds=0.2, warmup_s=0.0)
    assert driven.result.errors == 0 and driven.result.requests >= 3
    assert len(peers) >= driven.result.requests  # one connection per request


async def test_streams_report_the_time_to_the_first_content_chunk(serve: Any) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        with_text = (await request.json())["text"]
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b'data: {"choices":[{"delta":{"role":"assistant"}}]}\n\n')
        await asyncio.sleep(0.02)
        if with_text:  # split inside a line: the driver must join the pieces
            await resp.write(b'data: {"choices":[{"delta":{"con')
            await resp.write(b'tent":"Hi"}}]}\n\n')
        await asyncio.sleep(0.01)
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    url = await serve(handler)
    driven = await drive_raw(url, {"text": True}, concurrency=2, seconds=0.3, warmup_s=0.0,
                             first_token=has_content)
    assert driven.result.errors == 0 and driven.result.requests > 0
    assert len(driven.first_token_ms) == driven.result.requests
    assert all(20 <= first < whole for first, whole in zip(driven.first_token_ms, driven.result.latencies_ms,
                                                           strict=True))
    silent = await drive_raw(url, {"text": False}, concurrency=1, seconds=0.2, warmup_s=0.0,
                             first_token=has_content)
    assert silent.result.requests == 0 and silent.result.errors > 0  # a stream that never said a word


async def test_a_connection_the_server_drops_unasked_is_reopened_and_the_loop_goes_on(serve: Any) -> None:
    answered = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal answered
        answered += 1
        if answered == 2:  # answer, then drop the kept-alive connection right after
            asyncio.get_running_loop().call_later(0.01, request.transport.close)  # type: ignore[union-attr]
        return web.json_response({"ok": True})

    driven = await drive_raw(await serve(handler), {}, concurrency=1, seconds=0.3, warmup_s=0.0)
    assert driven.result.requests >= 3  # it went on after the drop, on a new connection


async def test_after_an_unparseable_answer_the_next_request_goes_on_a_new_connection() -> None:
    reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"
    handlers: list[asyncio.Task[None]] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        garbage = not handlers  # the first connection answers nonsense, the others well
        handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(b"NOT HTTP AT ALL\r\n\r\n" if garbage else reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the driver closed the connection
        finally:
            writer.close()
            await writer.wait_closed()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        driven = await drive_raw(f"http://127.0.0.1:{port}/", None, concurrency=1, seconds=0.2, warmup_s=0.0)
        await asyncio.wait_for(asyncio.gather(*handlers), 5)  # every connection seen to its end
    finally:
        server.close()
        await server.wait_closed()
    assert driven.result.errors == 1 and driven.result.requests > 1
    assert len(handlers) == 2
