"""A lean HTTP/1.1 client for the providers' replies, whole (`post`) or streamed (`open`).

aiohttp's `ClientSession.request` cost about 220 us of CPU per call at concurrency 1 here (120 at
16): request and response objects, header multidicts, a writer task, timers and tracing hooks,
about a fifth of /execute's CPU. A provider call needs only this: POST the bytes on a kept-alive
connection, then read status, headers and a size-capped body. This does that with asyncio's
transports and httptools' parser (uvicorn's, already installed): ~40 us. A stream's body is handed
out as it arrives (app/providers/http1_stream.py). Calls other than the providers' go to httpx's
own transport (app/providers/transport.py).

The contract is the httpx client's (tests/providers/test_transport.py runs the adapters over this
and over httpx's own transport): no redirects followed, no cookies, gzip and deflate decoded (the
cap applies after decoding), TLS with the client's context, and httpx's exceptions: refused, reset
or closed before an answer -> ConnectError, cut short inside the answer -> ReadError or
RemoteProtocolError, silent for `sock_read` -> ReadTimeout, no connection in time -> ConnectTimeout
or PoolTimeout.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Callable, Mapping
from typing import cast

import httptools
import httpx
from multidict import CIMultiDict

from app.providers.errors import ErrorClass, ProviderError
from app.providers.http1_stream import BodyStream
from app.providers.http1_wire import Origin, decoded, origin_of, request_bytes

__all__ = ["Connection", "Http1Pool", "Origin", "origin_of"]


class Connection(asyncio.Protocol):
    """One kept-alive connection; at most one exchange at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self.waiter: asyncio.Future[tuple[int, list[tuple[bytes, bytes]], bytes]] | None = None
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.size = 0
        self.cap = 0
        self.headers_done = False
        self.delimited = False  # the body has a length or chunks, so EOF before its end is a cut
        self.received = False
        self.keep_alive = False
        self.last_read = 0.0
        self.read_timeout = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.error: ProviderError | None = None
        self.stream: BodyStream | None = None  # a streamed exchange's body, until its end
        self.paused = False

    # -- asyncio.Protocol --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self.waiter is None and self.stream is None:  # nothing was asked: not to be trusted any more
            self.close()
            return
        self.received = True
        self.last_read = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:  # a callback's error comes back wrapped in one
            self._fail(self.error or httpx.RemoteProtocolError(f"malformed response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if (self.waiter is None or self.waiter.done()) and self.stream is None:
            return
        if self.headers_done and not self.delimited:  # a body that ends with the connection
            self.keep_alive = False
            self._finish()
        elif not self.received:
            self._fail(httpx.ConnectError(f"server disconnected ({exc or 'closed'})"))
        elif self.headers_done:
            self._fail(httpx.ReadError(f"connection closed inside the body ({exc or 'closed'})"))
        else:
            self._fail(httpx.RemoteProtocolError(f"connection closed inside the headers ({exc or 'closed'})"))

    # -- httptools callbacks --

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.headers_done = True
        names = {name.lower() for name, _ in self.headers}
        self.delimited = b"content-length" in names or b"transfer-encoding" in names or (
            self.status in (204, 304))
        if self.stream is not None and self.status >= 200:  # the head is the answer: hand it over
            waiter, self.waiter = self.waiter, None
            if waiter is not None and not waiter.done():
                waiter.set_result((self.status, self.headers, b""))

    def on_body(self, body: bytes) -> None:
        if self.stream is not None:
            self.stream.feed(body)
            return
        self.size += len(body)
        if self.size > self.cap:
            self.error = ProviderError(ErrorClass.INVALID_RESPONSE, f"response over {self.cap} bytes")
            raise self.error  # stops the parser
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200:  # informational: the answer follows
            self.headers, self.headers_done, self.delimited = [], False, False
            return
        self.keep_alive = self.parser.should_keep_alive()
        self._finish()

    # -- flow control of a streamed body (BodyStream's Reading) --

    def pause(self) -> None:
        if self.transport is not None and not self.closed:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused and self.transport is not None and not self.closed:
            self.paused = False
            self.last_read = self.loop.time()  # the provider was not silent: we were not reading
            self.transport.resume_reading()

    # -- the exchange --

    def send(self, data: bytes, *, cap: int, read_timeout: float, stream: BodyStream | None = None
             ) -> asyncio.Future[tuple[int, list[tuple[bytes, bytes]], bytes]]:
        """Write one request; the future resolves to (status, raw headers, raw body), or with
        `stream` to (status, raw headers, b"") once the head is in, the body going to `stream`."""
        assert self.transport is not None
        self.waiter = self.loop.create_future()
        self.stream = stream
        self.status, self.headers, self.chunks, self.size, self.cap = 0, [], [], 0, cap
        self.headers_done = self.delimited = self.received = False
        self.error = None
        self.read_timeout = read_timeout
        self.last_read = self.loop.time()
        self.timer = self.loop.call_at(self.last_read + read_timeout, self._check_silence)
        self.transport.write(data)
        return self.waiter

    def _check_silence(self) -> None:
        """aiohttp's sock_read: fail when nothing arrived for `read_timeout`, else look again later."""
        due = self.last_read + self.read_timeout
        if self.paused:  # the reader is behind, not the provider
            due = self.loop.time() + self.read_timeout
        elif self.loop.time() >= due:
            self.timer = None
            self._fail(httpx.ReadTimeout(f"no data for {self.read_timeout:.2f} s"))
        else:
            self.timer = self.loop.call_at(due, self._check_silence)

    def _finish(self) -> None:
        waiter, self.waiter = self.waiter, None
        stream, self.stream = self.stream, None
        self._stop_timer()
        if stream is not None:
            stream.end()
        if waiter is not None and not waiter.done():
            waiter.set_result((self.status, self.headers, b"".join(self.chunks)))

    def _fail(self, exc: BaseException) -> None:
        waiter, self.waiter = self.waiter, None
        stream, self.stream = self.stream, None
        self._stop_timer()
        self.close()
        if stream is not None:
            stream.fail(exc)
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def close(self) -> None:
        """Abort the connection; an exchange still waiting is cancelled (its caller has gone)."""
        self.closed = True
        self._stop_timer()
        waiter, self.waiter = self.waiter, None
        stream, self.stream = self.stream, None
        if waiter is not None and not waiter.done():
            waiter.cancel()
        if stream is not None:  # a body still arriving: its reader learns it was cut
            stream.fail(httpx.ReadError("the connection was closed inside the body"))
        if self.transport is not None:
            self.transport.abort()


class Http1Pool:
    """Kept-alive connections per origin; at most `limit` busy at once (callers beyond it wait)."""

    def __init__(self, *, ssl_context: ssl.SSLContext | Callable[[], ssl.SSLContext] | None, limit: int,
                 keepalive_s: float | None) -> None:
        # A context, or where to get one at the first TLS connection (None: the system's default).
        self._tls = ssl_context
        self.ssl_context = ssl_context if isinstance(ssl_context, ssl.SSLContext) else None
        self.limit = limit
        self.keepalive_s = keepalive_s
        self.idle: dict[tuple[str, str, int], deque[Connection]] = {}
        self.busy: set[Connection] = set()
        self.waiting: deque[asyncio.Future[None]] = deque()
        self._origins: dict[str, Origin] = {}

    def origin(self, url: str) -> Origin:
        found = self._origins.get(url)
        if found is None:
            if len(self._origins) > 4096:
                self._origins.clear()
            found = self._origins[url] = origin_of(url)
        return found

    async def post(self, url: str, headers: Mapping[str, str], content: bytes, *, connect_s: float | None,
                   pool_s: float | None, read_s: float | None, cap: int
                   ) -> tuple[int, CIMultiDict[str], bytes]:
        """POST `content` and read the whole answer: status, headers and the decoded body."""
        origin = self.origin(url)
        request = request_bytes(origin, headers, content)
        conn = await self._acquire(origin, connect_s=connect_s, pool_s=pool_s)
        try:
            status, raw_headers, body = await conn.send(request, cap=cap, read_timeout=read_s or 3600.0)
        except BaseException:
            self._discard(conn)
            raise
        if conn.keep_alive and not conn.closed:
            self._release(origin, conn)
        else:
            self._discard(conn)
        reply_headers: CIMultiDict[str] = CIMultiDict(
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in raw_headers)
        encoding = reply_headers.get("content-encoding", "").strip().lower()
        if encoding and encoding != "identity":
            body = decoded(body, encoding, cap)
        return status, reply_headers, body

    async def open(self, url: str, headers: Mapping[str, str], content: bytes, *, connect_s: float | None,
                   pool_s: float | None, read_s: float | None
                   ) -> tuple[int, list[tuple[bytes, bytes]], BodyStream]:
        """POST `content` and return once the answer's head is in: status, raw headers, and the
        body as it arrives, not decoded (httpx.Response decodes it). The caller closes the body."""
        origin = self.origin(url)
        request = request_bytes(origin, headers, content)
        conn = await self._acquire(origin, connect_s=connect_s, pool_s=pool_s)
        body = BodyStream(conn, lambda stream: self._after_stream(origin, conn, stream))
        try:
            status, raw_headers, _ = await conn.send(request, cap=0, read_timeout=read_s or 3600.0,
                                                     stream=body)
        except BaseException:
            self._discard(conn)
            raise
        return status, raw_headers, body

    def _after_stream(self, origin: Origin, conn: Connection, stream: BodyStream) -> None:
        """A closed body: its connection is kept only if the whole answer arrived cleanly (and the
        connection is not left paused by a reader that stopped before taking it all)."""
        if stream.done and stream.error is None and conn.keep_alive and not conn.closed and not conn.paused:
            self._release(origin, conn)
        else:
            self._discard(conn)

    async def _acquire(self, origin: Origin, *, connect_s: float | None, pool_s: float | None) -> Connection:
        loop = asyncio.get_running_loop()
        idle = self.idle.get((origin.scheme, origin.host, origin.port))
        while idle:
            conn = idle.pop()  # the most recently used is the least likely to have been closed
            expired = self.keepalive_s is not None and loop.time() - conn.idle_since > self.keepalive_s
            if conn.closed or expired:
                conn.close()
                continue
            self.busy.add(conn)
            return conn
        if len(self.busy) >= self.limit:
            await self._wait_for_slot(loop, pool_s)
        conn = Connection(loop)
        self.busy.add(conn)
        try:
            async with asyncio.timeout(connect_s):
                await loop.create_connection(
                    lambda: conn, origin.host, origin.port,
                    ssl=self._ssl() if origin.scheme == "https" else None,
                    server_hostname=origin.host if origin.scheme == "https" else None)
        except TimeoutError:
            self._discard(conn)
            raise httpx.ConnectTimeout(
                f"no connection to {origin.host_header} within {connect_s} s") from None
        except OSError as exc:
            self._discard(conn)
            raise httpx.ConnectError(f"cannot connect to {origin.host_header}: {exc}") from exc
        except BaseException:
            self._discard(conn)
            raise
        return conn

    async def _wait_for_slot(self, loop: asyncio.AbstractEventLoop, pool_s: float | None) -> None:
        try:
            async with asyncio.timeout(pool_s):
                while len(self.busy) >= self.limit:
                    waiter: asyncio.Future[None] = loop.create_future()
                    self.waiting.append(waiter)
                    try:
                        await waiter
                    except BaseException:
                        if waiter.done() and not waiter.cancelled():
                            self._wake_one()  # woken but leaving: pass the free slot on
                        raise
                    finally:
                        if waiter in self.waiting:
                            self.waiting.remove(waiter)
        except TimeoutError:
            raise httpx.PoolTimeout(f"no connection free within {pool_s} s") from None

    def _ssl(self) -> ssl.SSLContext:
        if self.ssl_context is None:
            self.ssl_context = self._tls() if callable(self._tls) else ssl.create_default_context()
        return self.ssl_context

    def _release(self, origin: Origin, conn: Connection) -> None:
        self.busy.discard(conn)
        conn.idle_since = conn.loop.time()
        self.idle.setdefault((origin.scheme, origin.host, origin.port), deque()).append(conn)
        self._wake_one()

    def _discard(self, conn: Connection) -> None:
        conn.close()
        if conn in self.busy:
            self.busy.discard(conn)
            self._wake_one()

    def _wake_one(self) -> None:
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        """Abort every connection, idle or busy."""
        for conn in list(self.busy):
            conn.close()
        for idle in self.idle.values():
            for conn in idle:
                conn.close()
        self.busy.clear()
        self.idle.clear()
