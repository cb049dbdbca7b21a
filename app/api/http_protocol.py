"""uvicorn's httptools protocol, sending a response's head and body in one write.

uvicorn writes the status line and headers as soon as the app sends `http.response.start`, and
the body with the next message: two writes, two TCP segments (no Nagle), two wake-ups of the
client, for every answer. On a virtual machine a loopback write costs tens of microseconds of
system time, and the second one is on the latency path of every request. Here the connection's
transport holds a response head back until the next write, which a whole response makes right
after it in the same step, and sends both together; a head still held when the event loop comes
round (a stream whose first chunk is not ready) goes out alone then. Bytes keep their order:
anything written, and a close, first sends what is held.

Served with `uvicorn --http app.api.http_protocol:HttpToolsProtocol`: app/cli.py does, and so does
the provider simulator (app/simulator/server.py), whose answers are what the service reads.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as UvicornHttpToolsProtocol


def is_response_head(data: bytes) -> bool:
    return data.startswith(b"HTTP/1.1 ") and data.endswith(b"\r\n\r\n")


class HeadJoiningTransport:
    """A transport whose response heads wait for the write that follows them."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._held is None and isinstance(data, bytes) and is_response_head(data):
            self._held = data
            self._loop.call_soon(self._release)
            return
        if self._held is not None:
            data, self._held = self._held + bytes(data), None
        self._transport.write(data)

    def _release(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self._release()
        self._transport.close()

    def abort(self) -> None:
        self._release()  # as if it had been written at once: the real transport decides what is lost
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # everything else is the real transport's
        return getattr(self._transport, name)


class HttpToolsProtocol(UvicornHttpToolsProtocol):
    """uvicorn's protocol over a HeadJoiningTransport."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(HeadJoiningTransport(transport, self.loop))  # type: ignore[arg-type]
