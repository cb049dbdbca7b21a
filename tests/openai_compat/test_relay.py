"""The stream relay and its SSE response at the ASGI level, with the provider stream faked at the
boundary: an adapter crash mid-stream, and a client gone before the body started."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from app.config.catalog import Catalog
from app.openai_compat.sse import EventStreamResponse
from app.openai_compat.streaming import Concluded, OpenedStream, StreamEnd, StreamRelay
from app.providers.base import ChatChunk, Usage
from app.routing.router import SmartLLMRouter
from app.routing.schemas import RouteRequest


class FakeProviderStream:
    """A provider stream: some chunks, then a crash or a stall; remembers being closed."""

    def __init__(self, texts: list[str], *, then: str) -> None:
        self.texts, self.then, self.closed = texts, then, False

    async def chunks(self) -> AsyncIterator[ChatChunk]:
        try:
            for text in self.texts:
                yield ChatChunk(text=text)
            if self.then == "crash":
                raise KeyError("choices")
            await asyncio.sleep(3600)
        finally:
            self.closed = True


def relay_for(catalog: Catalog, provider: FakeProviderStream, ends: list[StreamEnd]) -> StreamRelay:
    scored = SmartLLMRouter(catalog=catalog).decide(
        RouteRequest(task_type="chat", budget="low", context_size=10), keyed=None).chain[0]
    chunks = provider.chunks()

    def conclude(end: StreamEnd) -> Concluded:
        ends.append(end)
        return Concluded(Usage(3, len(end.text)))

    opened = OpenedStream(scored, chunks, [], False, time.monotonic(), 0.01)
    return StreamRelay(opened, chunk_id="chatcmpl-x", model="p/m", created=0, include_usage=False,
                       idle_s=5, conclude=conclude)


async def test_an_adapter_crash_mid_stream_ends_with_an_error_event_not_done(catalog: Catalog) -> None:
    provider, ends = FakeProviderStream(["Hello ", "world"], then="crash"), []
    relay = relay_for(catalog, provider, ends)
    body = b"".join([part async for part in relay.events()])
    events = [e.removeprefix(b"data: ") for e in body.split(b"\n\n") if e]
    assert b"[DONE]" not in events
    assert orjson.loads(events[-1])["error"]["code"] == "provider_stream_failed"
    assert [(e.text, e.error.error_class.value if e.error else None, e.disconnected) for e in ends] == [
        ("Hello world", "server_error", False)]
    assert provider.closed


async def test_a_client_gone_before_the_body_started_is_recorded_and_the_provider_closed(
    catalog: Catalog,
) -> None:
    provider, ends = FakeProviderStream(["Hello"], then="stall"), []
    relay = relay_for(catalog, provider, ends)
    await anext(relay.opened.chunks)  # the first chunk arrived, as the invoker leaves it
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        await asyncio.sleep(3600)  # the client never takes the response start

    response = EventStreamResponse(relay.events(), on_close=relay.aclose)
    await asyncio.wait_for(response({"type": "http"}, receive, send), 5)
    assert [m["type"] for m in sent] == ["http.response.start"]
    assert len(ends) == 1 and ends[0].disconnected and ends[0].error is None
    assert provider.closed
