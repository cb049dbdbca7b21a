"""Streaming with fallback before the first byte, and an explicit error event after it.

`StreamInvoker` plugs into the fallback loop: one call opens the provider's stream and returns
once the first content chunk (or the stream's clean end) has arrived, so a failure, a 429 or no
first token within the provider's `first_token_s` falls back like any failed call and the
client has seen nothing. `StreamRelay` then forwards the chunks as OpenAI SSE events, with an
idle timeout between chunks; a provider failure after the first byte ends the stream with an
`{"error": ...}` event and the partial usage, never a clean `[DONE]`. However the stream ends
(done, broken, or the client gone), `conclude` records it once.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from app.openai_compat.errors import stream_error_event
from app.openai_compat.idle import IdleTimeout
from app.openai_compat.wire import chunk_body, usage_body
from app.providers.base import ChatChunk, ChatRequest, Completion, Usage
from app.providers.errors import ErrorClass, ProviderError, classify_transport
from app.providers.pool import ProviderPool
from app.routing.schemas import Scored

DONE = b"data: [DONE]\n\n"


def sse(event: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(event) + b"\n\n"


async def close_quietly(chunks: AsyncIterator[ChatChunk]) -> None:
    """Close a provider stream (releasing its connection); errors on the way out do not matter."""
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()


@dataclass(slots=True)
class OpenedStream:
    """A provider stream that produced its first content chunk (or ended cleanly before one)."""

    scored: Scored
    chunks: AsyncIterator[ChatChunk]
    buffered: list[ChatChunk]
    finished: bool
    started: float
    first_token_s: float


class StreamInvoker:
    """The fallback loop's invoker for streams: a call succeeds at the first content chunk."""

    def __init__(self, pool: ProviderPool, request: ChatRequest) -> None:
        self.pool = pool
        self.request = request
        self.opened: OpenedStream | None = None

    def unavailable(self, provider: str) -> ProviderError | None:
        return self.pool.unavailable(provider)

    def timeout_s(self, provider: str) -> float:
        """The per-try budget is the time to the first token (the loop also caps it by the deadline)."""
        timeouts = self.pool.catalog.providers[provider].timeouts
        return min(timeouts.first_token_s, timeouts.read_s)

    async def __call__(self, scored: Scored) -> Completion:
        cand = scored.candidate
        target = self.pool.target(cand.provider, cand.model, cand.deployment)
        started = time.monotonic()
        chunks = self.pool.adapters[cand.provider].stream(target, self.request)
        buffered: list[ChatChunk] = []
        finished = False
        try:
            while True:
                try:
                    chunk = await anext(chunks)
                except StopAsyncIteration:
                    finished = True
                    break
                buffered.append(chunk)
                if chunk.text or chunk.finish_reason:
                    break
        except BaseException:
            await close_quietly(chunks)
            raise
        self.opened = OpenedStream(scored, chunks, buffered, finished, started,
                                   time.monotonic() - started)
        return Completion(content="", usage=None)


@dataclass(slots=True)
class StreamEnd:
    """How a relayed stream ended: its text, the provider's usage if any, and what broke it."""

    text: str
    usage: Usage | None
    finish_reason: str | None
    error: ProviderError | None = None
    disconnected: bool = False
    duration_ms: float = 0.0


@dataclass(slots=True)
class Concluded:
    """What the final usage chunk reports once the stream is recorded."""

    usage: Usage
    router: dict[str, Any] = field(default_factory=dict)


class StreamRelay:
    """Provider chunks out as OpenAI SSE events; `conclude` is called exactly once at the end."""

    def __init__(
        self, opened: OpenedStream, *, chunk_id: str, model: str, created: int, include_usage: bool,
        idle_s: float, conclude: Callable[[StreamEnd], Concluded],
    ) -> None:
        self.opened = opened
        self.chunk_id, self.model, self.created = chunk_id, model, created
        self.include_usage = include_usage
        self.idle_s = idle_s
        self.conclude = conclude
        self.parts: list[str] = []
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.concluded = False

    def headers(self) -> dict[str, str]:
        """Who is answering (known before the first byte is sent)."""
        cand = self.opened.scored.candidate
        return {"x-router-provider": cand.provider, "x-router-model": cand.model}

    def _chunk(self, **kwargs: Any) -> bytes:
        return sse(chunk_body(chunk_id=self.chunk_id, model=self.model, created=self.created,
                              include_usage=self.include_usage, **kwargs))

    def _forward(self, chunk: ChatChunk) -> bytes | None:
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.finish_reason:
            self.finish_reason = chunk.finish_reason
        if not chunk.text and not chunk.finish_reason:
            return None
        if chunk.text:
            self.parts.append(chunk.text)
        return self._chunk(delta={"content": chunk.text} if chunk.text else {},
                           finish_reason=chunk.finish_reason)

    def _end(self, **kwargs: Any) -> Concluded:
        self.concluded = True
        duration = (time.monotonic() - self.opened.started) * 1000
        return self.conclude(StreamEnd("".join(self.parts), self.usage, self.finish_reason,
                                       duration_ms=duration, **kwargs))

    async def events(self) -> AsyncGenerator[bytes, None]:
        """The SSE body: role chunk, content chunks, finish, usage (when asked), then [DONE]."""
        opened = self.opened
        error: ProviderError | None = None
        try:
            # The role chunk and what arrived with the first token leave in one write.
            head = [self._chunk(delta={"role": "assistant", "content": ""})]
            head += [data for data in map(self._forward, opened.buffered) if data is not None]
            yield b"".join(head)
            idle = IdleTimeout(self.idle_s)
            try:
                while not opened.finished:
                    try:
                        async with idle:
                            chunk = await anext(opened.chunks)
                    except StopAsyncIteration:
                        break
                    data = self._forward(chunk)
                    if data is not None:
                        yield data
            except ProviderError as exc:
                error = exc
            except TimeoutError:
                error = ProviderError(ErrorClass.TIMEOUT, f"no chunk from the provider for {self.idle_s:g} s")
            except httpx.TransportError as exc:
                error = classify_transport(exc)
            except Exception as exc:  # an adapter's bug still ends the stream visibly, as a failure
                error = ProviderError(ErrorClass.SERVER_ERROR, f"{type(exc).__name__}: {exc}")
            finally:
                idle.close()
            if error is not None:
                await close_quietly(opened.chunks)
                concluded = self._end(error=error)
                cand = opened.scored.candidate
                yield sse(stream_error_event(
                    f"{cand.provider} failed mid-stream ({error.error_class.value}: {error.message}); "
                    "the content so far is partial", code="provider_stream_failed",
                    usage=usage_body(concluded.usage)))
                return
            if self.finish_reason is None:
                yield self._chunk(delta={}, finish_reason="stop")
            concluded = self._end()
            if self.include_usage:
                yield self._chunk(usage=concluded.usage, extra={"router": concluded.router})
            yield DONE
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """End early (the client went away, or never got the body): record, then stop the provider."""
        if not self.concluded:
            self._end(disconnected=True)
            await close_quietly(self.opened.chunks)
