"""Anthropic messages: x-api-key and anthropic-version headers, system, content blocks, SSE events."""

from __future__ import annotations

from typing import Any

from app.simulator.completion import Chat, Completion
from app.simulator.providers import ModelTable
from app.simulator.wire import (
    Inbound,
    Meta,
    Reply,
    StreamPlan,
    WireError,
    bearer_token,
    is_int,
    is_number,
    json_reply,
    load_object,
    refused,
    sse,
)

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def _error_body(status: int, message: str, meta: Meta | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "error",
        "error": {"type": _ERROR_TYPES.get(status, "api_error"), "message": message},
    }
    if meta is not None:
        body["request_id"] = f"req_{meta.request_id}"
    return body


def _bad(message: str) -> WireError:
    return WireError(json_reply(400, _error_body(400, message, None)), "bad_request")


def _block_texts(blocks: Any, where: str) -> list[str]:
    if isinstance(blocks, str):
        return [blocks]
    if not isinstance(blocks, list):
        raise _bad(f"{where}: Input should be a valid list")
    texts: list[str] = []
    for i, block in enumerate(blocks):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise _bad(f"{where}.{i}: Input should be a valid dictionary or object to extract fields from")
        if block["type"] == "text":
            if not isinstance(block.get("text"), str):
                raise _bad(f"{where}.{i}.text: Field required")
            texts.append(block["text"])
        elif block["type"] == "tool_result" and isinstance(block.get("content"), str):
            texts.append(block["content"])
    return texts


class AnthropicDialect:
    """The Messages API wire format."""

    def authenticate(self, inbound: Inbound) -> None:
        key = inbound.headers.get("x-api-key", "") or bearer_token(inbound.headers)
        if not key:
            raise WireError(
                json_reply(401, _error_body(401, "x-api-key header is required", None)), "unauthorized"
            )
        if refused(key):
            raise WireError(json_reply(401, _error_body(401, "invalid x-api-key", None)), "unauthorized")
        if not inbound.headers.get("anthropic-version"):
            raise _bad("anthropic-version: header is required")

    def parse(self, inbound: Inbound, models: ModelTable) -> Chat:
        body = load_object(inbound.body)
        if body is None:
            raise _bad("The request body is not valid JSON.")
        for name in ("model", "max_tokens", "messages"):
            if body.get(name) is None:
                raise _bad(f"{name}: Field required")
        model = body["model"]
        if not isinstance(model, str) or not model:
            raise _bad("model: Input should be a valid string")
        max_tokens = body["max_tokens"]
        if not is_int(max_tokens):
            raise _bad("max_tokens: Input should be a valid integer")
        if max_tokens < 1:
            raise _bad("max_tokens: Input should be greater than or equal to 1")
        limit = models.max_output(inbound.provider, model)
        if max_tokens > limit:
            raise _bad(
                f"max_tokens: {max_tokens} > {limit}, which is the maximum allowed number of output "
                f"tokens for {model}"
            )
        messages = body["messages"]
        if not isinstance(messages, list):
            raise _bad("messages: Input should be a valid list")
        if not messages:
            raise _bad("messages: at least one message is required")
        texts = _block_texts(body["system"], "system") if body.get("system") is not None else []
        for i, message in enumerate(messages):
            if not isinstance(message, dict):
                raise _bad(f"messages.{i}: Input should be a valid dictionary")
            if message.get("role") not in ("user", "assistant"):
                raise _bad(f"messages.{i}.role: Input should be 'user' or 'assistant'")
            if "content" not in message:
                raise _bad(f"messages.{i}.content: Field required")
            texts += _block_texts(message["content"], f"messages.{i}.content")
        temperature = body.get("temperature")
        if temperature is not None and (not is_number(temperature) or not 0 <= temperature <= 1):
            raise _bad("temperature: Input should be less than or equal to 1")
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise _bad("stream: Input should be a valid boolean")
        return Chat(model, tuple(texts), max_tokens, stream)

    def _usage(self, completion: Completion, output_tokens: int) -> dict[str, Any]:
        return {
            "input_tokens": completion.input_tokens,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }

    def _headers(self, meta: Meta) -> dict[str, str]:
        return {"request-id": f"req_{meta.request_id}"}

    def render(self, chat: Chat, completion: Completion, meta: Meta) -> Reply:
        body = {
            "id": f"msg_{meta.request_id}",
            "type": "message",
            "role": "assistant",
            "model": chat.model,
            "content": [{"type": "text", "text": completion.text}],
            "stop_reason": "max_tokens" if completion.truncated else "end_turn",
            "stop_sequence": None,
            "usage": {**self._usage(completion, completion.output_tokens), "service_tier": "standard"},
        }
        return json_reply(200, body, self._headers(meta))

    def stream(self, chat: Chat, completion: Completion, meta: Meta) -> StreamPlan:
        start = {
            "type": "message_start",
            "message": {
                "id": f"msg_{meta.request_id}",
                "type": "message",
                "role": "assistant",
                "model": chat.model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": self._usage(completion, 1),
            },
        }
        block_start = {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        }
        delta = {
            "type": "message_delta",
            "delta": {
                "stop_reason": "max_tokens" if completion.truncated else "end_turn",
                "stop_sequence": None,
            },
            "usage": self._usage(completion, completion.output_tokens),
        }
        return StreamPlan(
            head=(
                sse(start, "message_start"),
                sse(block_start, "content_block_start"),
                sse({"type": "ping"}, "ping"),
            ),
            content=tuple(
                sse(
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                    "content_block_delta",
                )
                for piece in completion.chunks
            ),
            tail=(
                sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
                sse(delta, "message_delta"),
                sse({"type": "message_stop"}, "message_stop"),
            ),
            media_type="text/event-stream; charset=utf-8",
            headers=self._headers(meta),
        )

    def error(self, status: int, message: str, meta: Meta) -> Reply:
        return json_reply(status, _error_body(status, message, meta), self._headers(meta))

    def list_models(self, names: tuple[str, ...], meta: Meta) -> Reply:
        data = [
            {"type": "model", "id": n, "display_name": n, "created_at": "2025-01-01T00:00:00Z"} for n in names
        ]
        body = {
            "data": data,
            "has_more": False,
            "first_id": names[0] if names else None,
            "last_id": names[-1] if names else None,
        }
        return json_reply(200, body, self._headers(meta))
