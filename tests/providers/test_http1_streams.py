"""Streamed answers on the lean HTTP/1.1 client (Http1Pool.open, FastTransport.open_stream) against
real local servers that send their bodies in parts: bytes handed out as they arrive, the connection
kept only after a clean end, cuts and silences raised as httpx's errors, backpressure."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from app.providers import http1_stream
from app.providers.http1 import Http1Pool
from app.providers.transport import FastTransport, PostTimeouts
from tests.providers.loopback import listen

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


LAST_CHUNK = b"0\r\n\r\n"


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    return head + await reader.readexactly(length)


class Server:
    """A raw TCP server running `handler` on each connection; connections and requests counted."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.url = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[Server]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> Server:
        server = Server(handler)
        server.url = await listen(server.handle, servers)
        return server

    yield start
    for listening in servers:
        listening.close()


def pool() -> Http1Pool:
    return Http1Pool(ssl_context=None, limit=4, keepalive_s=30.0)


async def open_body(p: Http1Pool, url: str, read_s: float = 5.0) -> tuple[int, http1_stream.BodyStream]:
    status, _, body = await p.open(url, {"content-type": "application/json"}, b"{}",
                                   connect_s=5.0, pool_s=5.0, read_s=read_s)
    return status, body


async def test_the_body_is_handed_out_as_it_arrives_and_a_clean_end_keeps_the_connection(serve) -> None:
    more = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(CHUNKED_HEAD + chunk(b"data: one\n\n"))
            await writer.drain()
            await more.wait()
            writer.write(chunk(b"data: two\n\n") + LAST_CHUNK)
            await writer.drain()
            more.clear()

    server = await serve(handler)
    p = pool()
    for _ in range(2):
        status, body = await open_body(p, server.url)
        assert status == 200
        parts = aiter(body)
        assert await anext(parts) == b"data: one\n\n"  # before the server has sent the rest
        more.set()
        assert [part async for part in parts] == [b"data: two\n\n"]
        await body.aclose()
    assert server.connections == 1
    p.close()


async def test_a_stream_closed_before_its_end_gives_up_its_connection(serve) -> None:
    closed = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(CHUNKED_HEAD + chunk(b"data: one\n\n"))
        await writer.drain()
        if not await reader.read(1):  # the client aborted the connection
            closed.set()

    server = await serve(handler)
    p = pool()
    _, body = await open_body(p, server.url)
    assert await anext(aiter(body)) == b"data: one\n\n"
    await body.aclose()
    await asyncio.wait_for(closed.wait(), 5)
    _, again = await open_body(p, server.url)
    await again.aclose()
    assert server.connections == 2
    p.close()


async def test_a_body_cut_short_or_gone_silent_raises_httpx_errors(serve) -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(CHUNKED_HEAD + chunk(b"data: one\n\n"))
        await writer.drain()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(CHUNKED_HEAD + chunk(b"data: one\n\n"))
        await writer.drain()
        await asyncio.sleep(30)

    p = pool()
    _, body = await open_body(p, (await serve(cut)).url)
    with pytest.raises(httpx.ReadError):
        _ = [part async for part in body]
    await body.aclose()
    _, body = await open_body(p, (await serve(silent)).url, read_s=0.3)
    parts = aiter(body)
    assert await anext(parts) == b"data: one\n\n"
    with pytest.raises(httpx.ReadTimeout):
        await anext(parts)
    await body.aclose()
    p.close()


async def test_a_body_ending_with_the_connection_ends_cleanly_and_is_not_reused(serve) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
                     b"data: all\n\n")
        await writer.drain()

    server = await serve(handler)
    p = pool()
    for _ in range(2):
        _, body = await open_body(p, server.url)
        assert b"".join([part async for part in body]) == b"data: all\n\n"
        await body.aclose()
    assert server.connections == 2
    p.close()


async def test_a_slow_reader_stops_the_connection_reading_without_timing_it_out(serve, monkeypatch) -> None:
    monkeypatch.setattr(http1_stream, "HIGH_WATER", 64 * 1024)
    payload = bytes(range(256)) * 4096  # 1 MiB, sixteen times the high-water mark

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(payload))
        for i in range(0, len(payload), 16 * 1024):
            writer.write(payload[i:i + 16 * 1024])
            await writer.drain()

    server = await serve(handler)
    p = pool()
    _, body = await open_body(p, server.url, read_s=0.2)
    received, paused_seen = [], False
    async for part in body:
        received.append(part)
        assert len(part) <= 64 * 1024 + 256 * 1024  # the buffer stays bounded (one read past the mark)
        if not paused_seen:
            await asyncio.sleep(0.5)  # longer than read_s: only a paused connection survives this
            conn = next(iter(p.busy))
            paused_seen = conn.paused
    assert paused_seen
    assert b"".join(received) == payload
    await body.aclose()
    assert server.connections == 1 and not p.busy  # read to its end: back in the pool
    p.close()


async def test_a_connection_left_paused_by_a_reader_that_took_nothing_is_not_reused(
        serve, monkeypatch) -> None:
    monkeypatch.setattr(http1_stream, "HIGH_WATER", 1024)
    payload = b"x" * 8192  # arrives whole, with its end, and pauses the connection at once

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(payload) + payload)
            await writer.drain()

    server = await serve(handler)
    p = pool()
    _, body = await open_body(p, server.url)
    await asyncio.sleep(0.05)
    await body.aclose()  # done, but nothing taken: the connection is still paused
    assert await asyncio.wait_for(read_again(p, server.url), 3) == payload  # not on the paused one
    assert server.connections == 2
    p.close()


async def read_again(p: Http1Pool, url: str) -> bytes:
    _, body = await open_body(p, url)
    try:
        return b"".join([part async for part in body])
    finally:
        await body.aclose()


async def test_closing_the_pool_ends_a_waiting_reader_with_a_read_error(serve) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(CHUNKED_HEAD)
        await writer.drain()
        await asyncio.sleep(30)

    p = pool()
    _, body = await open_body(p, (await serve(handler)).url)
    reading = asyncio.ensure_future(anext(aiter(body)))
    await asyncio.sleep(0.05)
    p.close()
    with pytest.raises(httpx.ReadError):
        await asyncio.wait_for(reading, 5)


async def test_the_transport_streams_an_httpx_response_decoded_and_its_errors_readable(serve) -> None:
    events = b"data: one\n\ndata: two\n\n"
    packed = gzip.compress(events)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            request = await read_request(reader)
            if b"fail" in request:
                writer.write(b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\n"
                             b"retry-after: 3\r\ncontent-length: 11\r\n\r\n{\"e\": \"no\"}")
            else:
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\n"
                             b"transfer-encoding: chunked\r\n\r\n"
                             + chunk(packed[:10]) + chunk(packed[10:]) + LAST_CHUNK)
            await writer.drain()

    server = await serve(handler)
    transport = FastTransport(trust_env=False)
    timeouts = PostTimeouts(connect_s=5.0, pool_s=5.0, read_s=5.0)
    for content, status, body in ((b"{}", 200, events), (b'"fail"', 429, b'{"e": "no"}')):
        request = httpx.Request("POST", server.url, content=content)
        response = await transport.open_stream(request, server.url, {}, content, timeouts=timeouts)
        assert response.status_code == status and response.request is request
        assert b"".join([part async for part in response.aiter_bytes()]) == body
        await response.aclose()
    assert response.headers["retry-after"] == "3"
    assert server.connections == 1  # both answers read to their end: one kept-alive connection
    await transport.aclose()
