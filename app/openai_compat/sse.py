"""An SSE response that notices a client leaving while the provider is silent.

Starlette's StreamingResponse (ASGI spec 2.4) learns of a disconnect only when its next write
fails, so a stalled provider would keep an abandoned call open until its idle timeout. Here the
body is pumped in one task while another waits for `http.disconnect`; the first to finish
cancels the other, and the event generator is always closed (its `finally` records the call).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class EventStreamResponse(Response):
    """`text/event-stream` from an async generator of ready-made event bytes."""

    media_type = "text/event-stream"

    def __init__(self, events: AsyncGenerator[bytes, None], headers: Mapping[str, str] | None = None,
                 *, on_close: Callable[[], Awaitable[None]] | None = None) -> None:
        self.events = events
        self.on_close = on_close
        self.status_code = 200
        self.background = None
        self.init_headers({**SSE_HEADERS, **(headers or {})})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pump = asyncio.ensure_future(self._pump(send))
        gone = asyncio.ensure_future(_until_disconnect(receive))
        try:
            await asyncio.wait({pump, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, gone):
                task.cancel()
            for task in (pump, gone):
                with contextlib.suppress(asyncio.CancelledError, OSError):
                    await task
            await self.events.aclose()
            # A generator closed before it started runs no `finally`: let the producer clean up.
            if self.on_close is not None:
                await self.on_close()

    async def _pump(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        async with contextlib.aclosing(self.events) as events:
            async for data in events:
                await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
