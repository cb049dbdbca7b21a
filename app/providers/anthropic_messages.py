"""Anthropic messages: `x-api-key`, `anthropic-version`, a top-level system prompt, content blocks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ValidationError

from app.providers.base import (
    ChatChunk,
    ChatRequest,
    Completion,
    ImagePart,
    ProviderAdapter,
    Target,
    Usage,
    bounded_usage,
    error_text,
)
from app.providers.errors import ErrorClass, ProviderError, classify_status
from app.providers.sse import ended_early, sse_events

DEFAULT_VERSION = "2023-06-01"
# max_tokens is required by this API; when the client sets none we ask for this much at most.
DEFAULT_MAX_TOKENS = 4096
FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
          "refusal": "content_filter", "pause_turn": "stop"}
# Errors inside a 200 stream, by `error.type`.
STREAM_ERRORS = {"overloaded_error": 529, "api_error": 500, "rate_limit_error": 429,
                 "invalid_request_error": 400, "authentication_error": 401, "permission_error": 403}


# --- wire models -------------------------------------------------------------------------------

class WireModel(BaseModel):
    model_config = {"extra": "ignore"}


class WireUsage(WireModel):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class WireBlock(WireModel):
    type: str
    text: str | None = None


class WireMessage(WireModel):
    id: str | None = None
    type: Literal["message"]
    content: list[WireBlock]
    stop_reason: str | None = None
    usage: WireUsage | None = None


class WireDelta(WireModel):
    type: str | None = None
    text: str | None = None
    stop_reason: str | None = None


class WireError(WireModel):
    type: str = "api_error"
    message: str = ""


class WireEvent(WireModel):
    type: str
    message: WireMessage | None = None
    delta: WireDelta | None = None
    usage: WireUsage | None = None
    error: WireError | None = None


# --- pure converters ---------------------------------------------------------------------------

def to_wire(target: Target, request: ChatRequest, *, stream: bool = False) -> dict[str, Any]:
    """The /v1/messages body: system apart, text as strings, images as content blocks."""
    messages: list[dict[str, Any]] = []
    for turn in request.turns:
        if all(not isinstance(p, ImagePart) for p in turn.parts):
            messages.append({"role": turn.role, "content": turn.text})
            continue
        blocks: list[dict[str, Any]] = []
        for part in turn.parts:
            if not isinstance(part, ImagePart):
                blocks.append({"type": "text", "text": part.text})
            elif part.data is not None:
                blocks.append({"type": "image", "source": {"type": "base64", "media_type": part.media_type,
                                                           "data": part.data}})
            else:
                blocks.append({"type": "image", "source": {"type": "url", "url": part.url}})
        messages.append({"role": turn.role, "content": blocks})
    cap = min(target.max_output_tokens or DEFAULT_MAX_TOKENS, DEFAULT_MAX_TOKENS)
    body: dict[str, Any] = {
        "model": target.upstream_model,
        "max_tokens": request.max_tokens if request.max_tokens is not None else cap,
        "messages": messages,
    }
    if request.system:
        body["system"] = request.system
    # No `temperature`: the current Messages API (and its official SDK) no longer takes one.
    if stream:
        body["stream"] = True
    return body


def usage_from_wire(usage: WireUsage | None) -> Usage | None:
    """`input_tokens` excludes cache reads and writes: all three together are the prompt."""
    if usage is None or usage.input_tokens is None or usage.output_tokens is None:
        return None
    read = usage.cache_read_input_tokens or 0
    total_in = usage.input_tokens + read + (usage.cache_creation_input_tokens or 0)
    return bounded_usage(total_in, usage.output_tokens, read)


def from_wire(body: bytes) -> Completion:
    try:
        wire = WireMessage.model_validate_json(body)
    except ValidationError as exc:
        raise ProviderError(ErrorClass.INVALID_RESPONSE, f"not a message: {exc.errors()[0]['msg']}") from exc
    text = "".join(b.text or "" for b in wire.content if b.type == "text")
    return Completion(content=text, usage=usage_from_wire(wire.usage),
                      finish_reason=FINISH.get(wire.stop_reason or "", wire.stop_reason), response_id=wire.id)


class StreamState:
    """Usage arrives in two halves: input in message_start, cumulative output in message_delta."""

    def __init__(self) -> None:
        self.start_usage: WireUsage | None = None
        self.finish_reason: str | None = None
        self.done = False

    def chunk(self, data: str) -> ChatChunk | None:
        try:
            event = WireEvent.model_validate_json(data)
        except ValidationError as exc:
            raise ProviderError(ErrorClass.INVALID_RESPONSE, "not a messages stream event") from exc
        if event.type == "message_start" and event.message is not None:
            self.start_usage = event.message.usage
        elif event.type == "content_block_delta" and event.delta and event.delta.type == "text_delta":
            return ChatChunk(text=event.delta.text or "")
        elif event.type == "message_delta":
            stop = event.delta.stop_reason if event.delta else None
            self.finish_reason = FINISH.get(stop or "", stop)
            merged = (self.start_usage or WireUsage()).model_copy(
                update={"output_tokens": event.usage.output_tokens if event.usage else None})
            return ChatChunk(finish_reason=self.finish_reason, usage=usage_from_wire(merged))
        elif event.type == "message_stop":
            self.done = True
        elif event.type == "error":
            err = event.error or WireError()
            raise classify_status(STREAM_ERRORS.get(err.type, 500), {}, err.message, provider_code=err.type)
        return None


# --- error classification ----------------------------------------------------------------------

def error_from_wire(status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    """{"type": "error", "error": {"type", "message"}}; 529 is `overloaded_error`."""
    reason, code = error_text(body)
    return classify_status(status, headers, reason, provider_code=code)


# --- I/O ---------------------------------------------------------------------------------------

class AnthropicMessagesAdapter(ProviderAdapter):
    """POST {base_url}/v1/messages."""

    protocol = "anthropic"

    def url(self, target: Target) -> str:
        return f"{target.base_url}/v1/messages"

    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.key or "", "anthropic-version": self.spec.api_version or DEFAULT_VERSION,
                "content-type": "application/json"}

    def error_from_wire(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        return error_from_wire(status, headers, body)

    async def complete(self, target: Target, request: ChatRequest) -> Completion:
        body = orjson.dumps(to_wire(target, request))
        return from_wire(await self.post(self.url(target), self.headers(), body))

    async def stream(self, target: Target, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        body = orjson.dumps(to_wire(target, request, stream=True))
        state = StreamState()
        async with aclosing(sse_events(self, self.url(target), self.headers(), body)) as events:
            async for event in events:
                chunk = state.chunk(event.data) if event.data else None
                if chunk is not None:
                    yield chunk
                if state.done:
                    return
        raise ended_early()
