"""Serving one simulated provider call: latency, seeded faults, replies, streams, hangs and resets.

What a client sees for each fault:
- status: the provider's own error body with that status (Retry-After when `retry_after` is set);
- hang: no response at all until the client gives up (or the simulator stops: then a reset);
- reset: the TCP connection is aborted with RST before any byte of the response
  (httpx: RemoteProtocolError "Server disconnected without sending a response" or ReadError);
- truncate: status 200 and a JSON body cut in half with a matching Content-Length, or a stream
  that ends cleanly after half its content frames without its closing events;
- fail_after_chunks (streams): N content frames, then a reset mid-body (the chunked body never
  terminates), or a stall when `hang` is set too, or a clean early end when `truncate` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import Mapping
from typing import Literal

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from app.simulator.completion import complete
from app.simulator.faults import FaultSettings
from app.simulator.state import OK, SimulatorState
from app.simulator.wire import Dialect, Inbound, Meta, Reply, StreamPlan, WireError

TRANSPORT_KEY = "llm_router.simulator.transport"
INJECTED_MESSAGE = "Simulated failure injected by the provider simulator."
_DISCONNECT_GRACE_S = 2.0


class ConnectionAborted(Exception):
    """Raised where the server gives no access to its transport, so a reset cannot be a real RST."""


class Exchange:
    """The ASGI endpoint of one provider operation (a chat call or its model list)."""

    def __init__(
        self,
        state: SimulatorState,
        provider: str,
        dialect: Dialect,
        *,
        operation: Literal["chat", "models"] = "chat",
    ) -> None:
        self.state = state
        self.provider = provider
        self.dialect = dialect
        self.operation = operation

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        body = await request.body()
        state, provider = self.state, self.provider
        meta = Meta(provider, state.arrive(provider), int(time.time()))
        settings = state.settings(provider)
        if settings.latency_ms:
            await asyncio.sleep(settings.latency_ms / 1000)
        inbound = Inbound(
            provider,
            request.url.path,
            scope.get("path_params", {}),
            request.query_params,
            request.headers,
            body,
        )
        try:
            self.dialect.authenticate(inbound)
            answer = self._answer(inbound, meta)
        except WireError as exc:
            state.record(provider, exc.outcome)
            await send_reply(send, exc.reply)
            return
        failing = state.draw_fault(provider) and settings.applies_to(isinstance(answer, StreamPlan))
        if not failing:
            state.record(provider, OK)
            if isinstance(answer, StreamPlan):
                await _open_stream(send, answer, settings)
                await _send_frames(send, answer.content + answer.tail)
                await _end_body(send)
            else:
                await send_reply(send, answer)
            return
        await self._fail(scope, receive, send, answer, settings, meta)

    def _answer(self, inbound: Inbound, meta: Meta) -> Reply | StreamPlan:
        if self.operation == "models":
            return self.dialect.list_models(self.state.models.names(self.provider), meta)
        chat = self.dialect.parse(inbound, self.state.models)
        completion = complete(self.provider, chat)
        if chat.stream:
            return self.dialect.stream(chat, completion, meta)
        return self.dialect.render(chat, completion, meta)

    async def _fail(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        answer: Reply | StreamPlan,
        settings: FaultSettings,
        meta: Meta,
    ) -> None:
        record = self.state.record
        if isinstance(answer, StreamPlan) and settings.fail_after_chunks is not None:
            await _open_stream(send, answer, settings)
            await _send_frames(send, answer.content[: settings.fail_after_chunks])
            if settings.hang:
                record(self.provider, "mid_stream_hang")
                if not await self._stall(receive):
                    await abort_connection(scope, receive)
            elif settings.truncate:
                record(self.provider, "mid_stream_truncate")
                await _end_body(send)
            else:
                record(self.provider, "mid_stream_reset")
                await abort_connection(scope, receive)
        elif settings.hang:
            record(self.provider, "hang")
            if not await self._stall(receive):
                await abort_connection(scope, receive)
        elif settings.reset:
            record(self.provider, "reset")
            await abort_connection(scope, receive)
        elif settings.truncate:
            record(self.provider, "truncate")
            if isinstance(answer, StreamPlan):
                await _open_stream(send, answer, settings)
                await _send_frames(send, answer.content[: len(answer.content) // 2])
                await _end_body(send)
            else:
                await send_reply(send, answer, body=answer.body[: len(answer.body) // 2])
        else:
            status = settings.error_status
            record(self.provider, f"status_{status}")
            reply = self.dialect.error(status, INJECTED_MESSAGE, meta)
            if settings.retry_after is not None:
                reply = Reply(
                    reply.status,
                    reply.body,
                    {**reply.headers, "retry-after": str(settings.retry_after)},
                    reply.media_type,
                )
            await send_reply(send, reply)

    async def _stall(self, receive: Receive) -> bool:
        """Wait until the client goes away (True) or the simulator stops (False)."""
        gone = asyncio.ensure_future(_until_disconnect(receive))
        stopping = asyncio.ensure_future(self.state.stopping.wait())
        await asyncio.wait({gone, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for task in (gone, stopping):
            task.cancel()
        return gone.done() and not gone.cancelled()


async def send_reply(send: Send, reply: Reply, *, body: bytes | None = None) -> None:
    """Send a complete reply (optionally with a replacement body, e.g. a truncated one)."""
    payload = reply.body if body is None else body
    headers = [
        (b"content-type", reply.media_type.encode()),
        (b"content-length", str(len(payload)).encode()),
        *_encode_headers(reply.headers),
    ]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload, "more_body": False})


def _encode_headers(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


async def _open_stream(send: Send, plan: StreamPlan, settings: FaultSettings) -> None:
    headers = [
        (b"content-type", plan.media_type.encode()),
        (b"cache-control", b"no-cache"),
        *_encode_headers(plan.headers),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if settings.first_chunk_delay_ms:
        await asyncio.sleep(settings.first_chunk_delay_ms / 1000)
    await _send_frames(send, plan.head)


async def _send_frames(send: Send, frames: tuple[bytes, ...]) -> None:
    for frame in frames:
        await send({"type": "http.response.body", "body": frame, "more_body": True})


async def _end_body(send: Send) -> None:
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def abort_connection(scope: Scope, receive: Receive) -> None:
    """Drop the client's connection with a TCP reset, wherever the response stands."""
    transport = scope.get(TRANSPORT_KEY)
    if transport is None:
        raise ConnectionAborted("connection dropped by the provider simulator")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # SO_LINGER 0 makes close() send RST instead of FIN: a reset, not a clean end.
        with contextlib.suppress(OSError, AttributeError, TypeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # Wait for the server to notice, so it does not complain the response was left unfinished.
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(_until_disconnect(receive), _DISCONNECT_GRACE_S)
