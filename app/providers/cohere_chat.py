"""Cohere chat v2: bearer key, messages with a system role, content blocks, billed units."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any

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

FINISH = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls",
          "ERROR": "error"}


# --- wire models -------------------------------------------------------------------------------

class WireModel(BaseModel):
    model_config = {"extra": "ignore"}


class WireUnits(WireModel):
    input_tokens: float | None = None
    output_tokens: float | None = None


class WireUsage(WireModel):
    billed_units: WireUnits | None = None
    tokens: WireUnits | None = None
    cached_tokens: float | None = None


class WireBlock(WireModel):
    type: str
    text: str | None = None


class WireMessage(WireModel):
    content: list[WireBlock] = []


class WireResponse(WireModel):
    id: str | None = None
    finish_reason: str | None = None
    message: WireMessage
    usage: WireUsage | None = None


class WireDeltaContent(WireModel):
    text: str | None = None


class WireDeltaMessage(WireModel):
    content: WireDeltaContent | list[Any] | None = None  # message-start carries an empty list


class WireDelta(WireModel):
    message: WireDeltaMessage | None = None
    finish_reason: str | None = None
    usage: WireUsage | None = None


class WireEvent(WireModel):
    type: str
    delta: WireDelta | None = None


# --- pure converters ---------------------------------------------------------------------------

def to_wire(target: Target, request: ChatRequest, *, stream: bool = False) -> dict[str, Any]:
    """The /v2/chat body: the system prompt is the first message."""
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    for turn in request.turns:
        if all(not isinstance(p, ImagePart) for p in turn.parts):
            messages.append({"role": turn.role, "content": turn.text})
            continue
        messages.append({"role": turn.role, "content": [
            {"type": "image_url", "image_url": {"url": p.url}} if isinstance(p, ImagePart)
            else {"type": "text", "text": p.text}
            for p in turn.parts
        ]})
    body: dict[str, Any] = {"model": target.upstream_model, "messages": messages, "stream": stream}
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    if request.temperature is not None:
        body["temperature"] = min(request.temperature, 1.0)  # this API's range is 0-1
    return body


def usage_from_wire(usage: WireUsage | None) -> Usage | None:
    """Billed units are what costs money; raw token counts only when billing is absent."""
    if usage is None:
        return None
    units = usage.billed_units if usage.billed_units and usage.billed_units.input_tokens is not None \
        else usage.tokens
    if units is None or units.input_tokens is None or units.output_tokens is None:
        return None
    return bounded_usage(units.input_tokens, units.output_tokens, usage.cached_tokens or 0)


def from_wire(body: bytes) -> Completion:
    try:
        wire = WireResponse.model_validate_json(body)
    except ValidationError as exc:
        msg = f"not a v2 chat response: {exc.errors()[0]['msg']}"
        raise ProviderError(ErrorClass.INVALID_RESPONSE, msg) from exc
    text = "".join(b.text or "" for b in wire.message.content if b.type == "text")
    reason = wire.finish_reason
    return Completion(content=text, usage=usage_from_wire(wire.usage),
                      finish_reason=FINISH.get(reason or "", reason), response_id=wire.id)


def chunk_from_wire(data: str) -> tuple[ChatChunk | None, bool]:
    """(chunk or None, whether this was `message-end`, the last event)."""
    try:
        event = WireEvent.model_validate_json(data)
    except ValidationError as exc:
        raise ProviderError(ErrorClass.INVALID_RESPONSE, "not a v2 chat stream event") from exc
    delta = event.delta
    content = delta.message.content if delta and delta.message else None
    if event.type == "content-delta" and isinstance(content, WireDeltaContent):
        return ChatChunk(text=content.text or ""), False
    if event.type == "message-end":
        reason = delta.finish_reason if delta else None
        return ChatChunk(finish_reason=FINISH.get(reason or "", reason),
                         usage=usage_from_wire(delta.usage if delta else None)), True
    return None, False


# --- error classification ----------------------------------------------------------------------

def error_from_wire(status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    """{"id", "message"}; Cohere answers 498 for an invalid key."""
    reason, code = error_text(body)
    return classify_status(401 if status == 498 else status, headers, reason, provider_code=code)


# --- I/O ---------------------------------------------------------------------------------------

class CohereChatAdapter(ProviderAdapter):
    """POST {base_url}/v2/chat with a bearer key."""

    protocol = "cohere"

    def url(self, target: Target) -> str:
        return f"{target.base_url}/v2/chat"

    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.key}", "content-type": "application/json"}

    def error_from_wire(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        return error_from_wire(status, headers, body)

    async def complete(self, target: Target, request: ChatRequest) -> Completion:
        body = orjson.dumps(to_wire(target, request))
        return from_wire(await self.post(self.url(target), self.headers(), body))

    async def stream(self, target: Target, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        body = orjson.dumps(to_wire(target, request, stream=True))
        async with aclosing(sse_events(self, self.url(target), self.headers(), body)) as events:
            async for event in events:
                if not event.data or event.data == "[DONE]":
                    continue
                chunk, last = chunk_from_wire(event.data)
                if chunk is not None:
                    yield chunk
                if last:
                    return
        raise ended_early()
