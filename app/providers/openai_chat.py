"""OpenAI chat completions: openai, deepseek, mistral, openrouter, perplexity, huggingface, and
azure_openai (deployment URL, `api-version` query, `api-key` header)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any
from urllib.parse import quote

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

# OpenAI deprecated `max_tokens` for `max_completion_tokens` (o-series models refuse the old name);
# the compatible providers document `max_tokens`.
MAX_TOKENS_FIELD = {"openai": "max_completion_tokens", "azure_openai": "max_completion_tokens"}
# Providers documented to accept `stream_options.include_usage`; the others send usage unasked.
STREAM_USAGE_OPTION = frozenset({"openai", "azure_openai", "deepseek", "openrouter", "huggingface"})


# --- wire models -------------------------------------------------------------------------------

class WireModel(BaseModel):
    model_config = {"extra": "ignore"}


class PromptDetails(WireModel):
    cached_tokens: int | None = None


class CompletionDetails(WireModel):
    reasoning_tokens: int | None = None


class WireUsage(WireModel):
    prompt_tokens: int
    completion_tokens: int
    prompt_tokens_details: PromptDetails | None = None
    completion_tokens_details: CompletionDetails | None = None


class WireMessage(WireModel):
    content: str | None = None


class WireChoice(WireModel):
    message: WireMessage
    finish_reason: str | None = None


class WireResponse(WireModel):
    id: str | None = None
    choices: list[WireChoice]
    usage: WireUsage | None = None


class WireDelta(WireModel):
    content: str | None = None


class WireChunkChoice(WireModel):
    delta: WireDelta | None = None
    finish_reason: str | None = None


class WireChunk(WireModel):
    choices: list[WireChunkChoice] = []
    usage: WireUsage | None = None


# --- pure converters ---------------------------------------------------------------------------

def to_wire(provider: str, target: Target, request: ChatRequest, *, stream: bool = False) -> dict[str, Any]:
    """The chat.completions body for this request."""
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    for turn in request.turns:
        if all(not isinstance(p, ImagePart) for p in turn.parts):
            messages.append({"role": turn.role, "content": turn.text})
            continue
        content = [
            {"type": "image_url", "image_url": {"url": p.url}} if isinstance(p, ImagePart)
            else {"type": "text", "text": p.text}
            for p in turn.parts
        ]
        messages.append({"role": turn.role, "content": content})
    body: dict[str, Any] = {"model": target.upstream_model, "messages": messages}
    if request.max_tokens is not None:
        body[MAX_TOKENS_FIELD.get(provider, "max_tokens")] = request.max_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if stream:
        body["stream"] = True
        if provider in STREAM_USAGE_OPTION:
            body["stream_options"] = {"include_usage": True}
    return body


def usage_from_wire(usage: WireUsage | None) -> Usage | None:
    if usage is None:
        return None
    cached = usage.prompt_tokens_details.cached_tokens if usage.prompt_tokens_details else 0
    reasoning = usage.completion_tokens_details.reasoning_tokens if usage.completion_tokens_details else 0
    return bounded_usage(usage.prompt_tokens, usage.completion_tokens, cached, reasoning)


def from_wire(body: bytes) -> Completion:
    """A chat.completion object to our Completion; a body of another shape is invalid.

    The usual body (every choice an object with a message, text or null where the wire models
    take text or null, integer token counts) is read from the parsed JSON directly: the same
    Completion as the wire models give, for a fifth of their time. Anything else goes through them,
    which also say what is wrong."""
    try:
        plain = _plain_completion(orjson.loads(body))
    except orjson.JSONDecodeError:
        plain = None
    return plain if plain is not None else _validated_completion(body)


_TEXT_OR_NULL = (str, type(None))


def _plain_completion(data: Any) -> Completion | None:
    """The Completion of a body in the usual shape, checked field by field; None for any other."""
    if data.__class__ is not dict:
        return None
    choices, response_id = data.get("choices"), data.get("id")
    if choices.__class__ is not list or not choices or response_id.__class__ not in _TEXT_OR_NULL:
        return None
    for choice in choices:
        message = choice.get("message") if choice.__class__ is dict else None
        if (message.__class__ is not dict or message.get("content").__class__ not in _TEXT_OR_NULL
                or choice.get("finish_reason").__class__ not in _TEXT_OR_NULL):
            return None
    usage: Usage | None = None
    raw = data.get("usage")
    if raw is not None:
        if raw.__class__ is not dict:
            return None
        prompt, completion = raw.get("prompt_tokens"), raw.get("completion_tokens")
        cached = _detail(raw.get("prompt_tokens_details"), "cached_tokens")
        reasoning = _detail(raw.get("completion_tokens_details"), "reasoning_tokens")
        if (prompt.__class__ is not int or completion.__class__ is not int
                or cached is None or reasoning is None):
            return None
        usage = bounded_usage(prompt, completion, cached, reasoning)
    first = choices[0]
    return Completion(content=first["message"].get("content") or "", usage=usage,
                      finish_reason=first.get("finish_reason"), response_id=response_id)


def _detail(details: Any, name: str) -> int | None:
    """A count from an optional details object, 0 when it or the count is null or absent (as the
    wire models read it); None when it is not plain."""
    if details is None:
        return 0
    if details.__class__ is not dict:
        return None
    value = details.get(name)
    if value is None:
        return 0
    return value if value.__class__ is int else None


def _validated_completion(body: bytes) -> Completion:
    """from_wire through the wire models: any shape they accept, and their reason when they do not."""
    try:
        wire = WireResponse.model_validate_json(body)
    except ValidationError as exc:
        msg = f"not a chat.completion: {exc.errors()[0]['msg']}"
        raise ProviderError(ErrorClass.INVALID_RESPONSE, msg) from exc
    if not wire.choices:
        raise ProviderError(ErrorClass.INVALID_RESPONSE, "chat.completion without choices")
    choice = wire.choices[0]
    return Completion(content=choice.message.content or "", usage=usage_from_wire(wire.usage),
                      finish_reason=choice.finish_reason, response_id=wire.id)


def chunk_from_wire(data: str) -> ChatChunk:
    try:
        wire = WireChunk.model_validate_json(data)
    except ValidationError as exc:
        raise ProviderError(ErrorClass.INVALID_RESPONSE, "not a chat.completion.chunk") from exc
    chunk = ChatChunk(usage=usage_from_wire(wire.usage))
    if wire.choices:
        choice = wire.choices[0]
        chunk.text = (choice.delta.content if choice.delta else None) or ""
        chunk.finish_reason = choice.finish_reason
    return chunk


def chunk_to_wire(
    chunk: ChatChunk, *, chunk_id: str, model: str, created: int | None = None
) -> dict[str, Any]:
    """Our chunk as an OpenAI chat.completion.chunk (what /v1/chat/completions streams)."""
    out: dict[str, Any] = {
        "id": chunk_id, "object": "chat.completion.chunk", "created": created or int(time.time()),
        "model": model, "choices": [],
    }
    if chunk.text or chunk.finish_reason:
        delta = {"content": chunk.text} if chunk.text else {}
        out["choices"] = [{"index": 0, "delta": delta, "finish_reason": chunk.finish_reason}]
    if chunk.usage is not None:
        u = chunk.usage
        out["usage"] = {
            "prompt_tokens": u.input_tokens, "completion_tokens": u.output_tokens,
            "total_tokens": u.input_tokens + u.output_tokens,
            "prompt_tokens_details": {"cached_tokens": u.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        }
    return out


# --- error classification ----------------------------------------------------------------------

def error_from_wire(status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    """{"error": {"message", "type", "code"}}; Azure uses the same envelope."""
    reason, code = error_text(body)
    return classify_status(status, headers, reason, provider_code=code)


# --- I/O ---------------------------------------------------------------------------------------

class OpenAIChatAdapter(ProviderAdapter):
    """POST {base_url}/chat/completions with a bearer key."""

    protocol = "openai"

    def url(self, target: Target) -> str:
        return f"{target.base_url}/chat/completions"

    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.key}", "content-type": "application/json"}

    def error_from_wire(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        return error_from_wire(status, headers, body)

    async def complete(self, target: Target, request: ChatRequest) -> Completion:
        body = orjson.dumps(to_wire(self.name, target, request))
        return from_wire(await self.post(self.url(target), self.headers(), body))

    async def stream(self, target: Target, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        body = orjson.dumps(to_wire(self.name, target, request, stream=True))
        async with aclosing(sse_events(self, self.url(target), self.headers(), body)) as events:
            async for event in events:
                if event.data == "[DONE]":
                    return
                if event.data:
                    yield chunk_from_wire(event.data)
        raise ended_early()


class AzureOpenAIChatAdapter(OpenAIChatAdapter):
    """POST {resource}/openai/deployments/{deployment}/chat/completions?api-version=… with `api-key`;
    the Azure deployment is named after the model (its `upstream_name` when set)."""

    def url(self, target: Target) -> str:
        version = self.spec.api_version or "2024-10-21"
        return (f"{target.base_url}/openai/deployments/{quote(target.upstream_model, safe='')}"
                f"/chat/completions?api-version={version}")

    def headers(self) -> dict[str, str]:
        return {"api-key": self.key or "", "content-type": "application/json"}
