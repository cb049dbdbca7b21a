"""A lean closed-loop HTTP/1.1 load driver: pre-encoded requests on kept-alive connections, responses
parsed by httptools (the parser uvicorn uses), no client library in between.

aiohttp's client costs the load generator about as much CPU per request as the gateway it measures
(500-700 us here). On a two-core machine that CPU is taken from the gateway and the simulator, and at
concurrency 1 it lengthens every round trip, the same for every target, which flattens the ratios
between them. This driver does what `wrk` does in C, in Python: it writes the same request bytes
again and again and only parses status and body, so the driver's own share shrinks (the benchmark
prints it per target). Every target gets the same driver.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httptools

from bench.loadgen import LoadResult

FirstToken = Callable[[bytes], bool]  # whether one line of a streamed body carries the first token


def request_bytes(url: str, body: Mapping[str, Any] | None, headers: Mapping[str, str] | None = None,
                  method: str = "POST") -> tuple[str, int, bytes]:
    """(host, port, the whole request as bytes) for a JSON request kept alive."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None:
        raise ValueError(f"the raw driver speaks plain http only, not {url!r}")
    port = parts.port or 80
    payload = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    lines = [f"{method} {path} HTTP/1.1", f"Host: {parts.hostname}:{port}", "User-Agent: bench-rawload",
             "Accept: */*", "Connection: keep-alive"]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return parts.hostname, port, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


class Exchange(asyncio.Protocol):
    """One kept-alive connection: send a request, wait for the whole response, again."""

    def __init__(self, first_token: FirstToken | None = None) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.first_token = first_token
        self.transport: asyncio.Transport | None = None
        self.reply: asyncio.Future[int] | None = None
        self.first_at: float | None = None
        self.pending = b""
        self.keep_alive = True

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.keep_alive = False  # the parser is spent: the next request needs a new connection
            self._fail(ConnectionError(f"unparseable response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.keep_alive = False
        self._fail(ConnectionError("connection closed before the response ended"))

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        if self.first_token is None or self.first_at is not None:
            return
        self.pending += body
        *lines, self.pending = self.pending.split(b"\n")
        if any(self.first_token(line) for line in lines):
            self.first_at = time.perf_counter()
            self.pending = b""

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        if self.reply is not None and not self.reply.done():
            self.reply.set_result(self.parser.get_status_code())

    def _fail(self, exc: Exception) -> None:
        if self.reply is not None and not self.reply.done():
            self.reply.set_exception(exc)

    async def send(self, request: bytes) -> int:
        """The status of the response to `request`, once its body has been read whole."""
        assert self.transport is not None
        if self.transport.is_closing():  # closed since the last answer: a write would vanish
            self.keep_alive = False
            raise ConnectionError("connection closed between requests")
        self.reply = asyncio.get_running_loop().create_future()
        self.first_at, self.pending = None, b""
        self.transport.write(request)
        return await self.reply

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


@dataclass
class Driven:
    """A load run's figures, and for streams each answered request's time to its first token."""

    result: LoadResult
    first_token_ms: list[float] = field(default_factory=list)
    cpu_s: float = 0.0  # the driver's own CPU over the measured part
    server_cpu_s: float | None = None  # the target's CPU over the measured part, when asked for

    def add(self, status: int, ms: float, plain: bool, first_at: float | None, t0: float) -> None:
        if status >= 400 or not (plain or first_at is not None):
            self.result.errors += 1
            return
        self.result.requests += 1
        self.result.latencies_ms.append(ms)
        if first_at is not None:
            self.first_token_ms.append((first_at - t0) * 1000)


async def drive_raw(url: str, body: Mapping[str, Any] | None, *, concurrency: int, seconds: float,
                    warmup_s: float = 0.2, method: str = "POST", headers: Mapping[str, str] | None = None,
                    first_token: FirstToken | None = None,
                    server_cpu: Callable[[], float] | None = None) -> Driven:
    """Closed loop: `concurrency` connections send requests back to back for `seconds`, after a
    warm-up on the same connections. A status of 400 or more, a reset or a stream without a first
    token is an error; a closed connection is reopened. With `first_token`, times to the first
    token are kept too. The driver's own CPU per measured request is reported alongside, and with
    `server_cpu` (the target's CPU seconds so far) the target's over the same part."""
    host, port, request = request_bytes(url, body, headers, method)
    loop = asyncio.get_running_loop()
    driven = Driven(LoadResult(0, 0, 0.0, []))

    async def connect() -> Exchange:
        _, protocol = await loop.create_connection(lambda: Exchange(first_token), host, port)
        return protocol

    async def run(exchange: Exchange, stop_at: float, record: Driven | None) -> Exchange:
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            try:
                status = await exchange.send(request)
            except ConnectionError:
                status = 599
            ms = (time.perf_counter() - t0) * 1000
            if record is not None:
                record.add(status, ms, first_token is None, exchange.first_at, t0)
            if not exchange.keep_alive:
                exchange.close()
                exchange = await connect()
        return exchange

    exchanges = list(await asyncio.gather(*(connect() for _ in range(concurrency))))
    try:
        warm_until = time.monotonic() + warmup_s
        exchanges = list(await asyncio.gather(*(run(e, warm_until, None) for e in exchanges)))
        server0 = server_cpu() if server_cpu is not None else 0.0
        cpu0, t0 = time.process_time(), time.monotonic()
        exchanges = list(await asyncio.gather(*(run(e, t0 + seconds, driven) for e in exchanges)))
        driven.result.seconds = time.monotonic() - t0
        driven.cpu_s = time.process_time() - cpu0
        if server_cpu is not None:
            driven.server_cpu_s = server_cpu() - server0
    finally:
        for exchange in exchanges:
            exchange.close()
    return driven
