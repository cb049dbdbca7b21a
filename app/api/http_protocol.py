"""uvicorn's httptools protocol, sending a response's head and body in one write, and a stream's
chunks that are ready together in one write.

uvicorn writes the status line and headers as soon as the app sends `http.response.start`, and
the body with the next message: two writes, two TCP segments (no Nagle), two wake-ups of the
client, for every answer. On a virtual machine a loopback write costs tens of microseconds of
system time, and the second one is on the latency path of every request. Here the connection's
transport holds a response head back until the next write, which a whole response makes right
after it in the same step, and sends both together; a head still held when the event loop comes
round (a stream whose first chunk is not ready) goes out alone then. After a streamed (chunked)
response's first chunk, which goes out at once (its first token), its writes are held until the
loop comes round, so the chunks a relay forwards in one step (events that arrived together from a
provider, as they do when the service is busy) leave in one write, and a lone chunk leaves as soon
as the step that wrote it ends. Bytes keep their order: anything written, and a close, first sends
what is held.

Served with `uvicorn --http app.api.http_protocol:HttpToolsProtocol`: app/cli.py does. The provider
simulator (app/simulator/server.py), whose answers are what the service reads, serves with
`ProviderHttpToolsProtocol`: heads joined, each stream chunk its own write.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as UvicornHttpToolsProtocol

CHUNKED = b"\r\ntransfer-encoding: chunked\r\n"  # as uvicorn writes it for a streamed answer


def is_response_head(data: bytes) -> bool:
    return data.startswith(b"HTTP/1.1 ") and data.endswith(b"\r\n\r\n")


class HeadJoiningTransport:
    """A transport whose response heads wait for the write that follows them, and whose streamed
    responses' later writes (with `join_streams`) wait for the end of the event loop's step."""

    __slots__ = ("_first", "_held", "_join_streams", "_loop", "_streaming", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop, *,
                 join_streams: bool = True) -> None:
        self._transport = transport
        self._loop = loop
        self._join_streams = join_streams
        self._held: list[bytes] | None = None
        self._streaming = False  # the response being written is chunked (and joined)
        self._first = False  # its next write is the first after its head

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if isinstance(data, bytes) and is_response_head(data):
            self._streaming = self._join_streams and CHUNKED in data
            self._first = True
            self._hold(data)
        elif self._first or not self._streaming:
            # A whole answer's body, or a stream's first chunk (its first token): out now, with the
            # head if it is still held.
            self._first = False
            if self._held is not None:
                self._held.append(bytes(data))
                self._release()
            else:
                self._transport.write(data)
        else:
            self._hold(bytes(data))

    def _hold(self, data: bytes) -> None:
        if self._held is None:
            self._held = [data]
            self._loop.call_soon(self._release)
        else:
            self._held.append(data)

    def _release(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

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

    join_streams = True

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(HeadJoiningTransport(  # type: ignore[arg-type]
            transport, self.loop, join_streams=self.join_streams))


class ProviderHttpToolsProtocol(HttpToolsProtocol):
    """The provider simulator's: heads joined, but a stream's chunks each in its own write, as a
    provider sends the tokens it paces out (its reader is the service, which should see that)."""

    join_streams = False
