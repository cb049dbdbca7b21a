"""A streamed answer's body on the lean HTTP/1.1 client's connection (app/providers/http1.py).

Streams went through httpx's client and httpx-aiohttp to aiohttp: about a third of a relayed
stream's CPU here, for what the relay needs of them, the body's bytes as they arrive. The
connection's parser feeds them in here and `__aiter__` hands out everything that has arrived
since the last read in one piece; an httpx.Response wraps it, so content decoding, the SSE
parser (httpx-sse) and the error paths read it as they read any httpx stream.

Backpressure: past `HIGH_WATER` buffered bytes the connection stops reading (the provider's
sends then wait on TCP) until the reader has taken them. A read timeout counts only while the
client is reading. Closing the stream hands the connection back to its pool once the answer was
read to its end on a kept-alive connection, and aborts it otherwise (a stream left half-read
cannot carry the next request).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Protocol

import httpx

HIGH_WATER = 1 << 20  # bytes buffered before the connection stops reading (until all are read)


class Reading(Protocol):
    """What a body needs of its connection: to stop and resume reading."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...


class BodyStream(httpx.AsyncByteStream):
    """The body of one streamed answer, fed by the connection, read once, closed once."""

    def __init__(self, connection: Reading, on_close: Callable[[BodyStream], None]) -> None:
        self._connection = connection
        self._on_close = on_close
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self.done = False  # the whole answer has arrived
        self.error: BaseException | None = None
        self.closed = False

    # -- the connection's side --

    def feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > HIGH_WATER and not self._paused:
            self._paused = True
            self._connection.pause()
        self._wake()

    def end(self) -> None:
        self.done = True
        self._wake()

    def fail(self, exc: BaseException) -> None:
        if not self.done and self.error is None:
            self.error = exc
            self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- the reader's side --

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            if self._chunks:
                data = self._chunks.popleft() if len(self._chunks) == 1 else b"".join(self._chunks)
                self._chunks.clear()
                self._buffered = 0
                if self._paused:
                    self._paused = False
                    self._connection.resume()
                yield data
            elif self.error is not None:
                raise self.error
            elif self.done or self.closed:
                return
            else:
                self._waiter = asyncio.get_running_loop().create_future()
                await self._waiter

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            self._chunks.clear()
            self._on_close(self)
