"""Cohere chat v2: Bearer key, message content lists, billed_units and tokens usage, typed SSE events."""

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

ROLES = ("system", "user", "assistant", "tool")


def _fail(status: int, message: str, outcome: str, meta: Meta | None = None) -> WireError:
    return WireError(json_reply(status, _error_body(message, meta)), outcome)


def _error_body(message: str, meta: Meta | None) -> dict[str, Any]:
    return {"id": meta.request_id if meta else "00000000-0000-0000-0000-000000000000", "message": message}


def _bad(message: str) -> WireError:
    return _fail(400, f"invalid request: {message}", "bad_request")


def _content_texts(content: Any, where: str) -> list[str]:
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        raise _bad(f"{where} must be a string or a list of content blocks")
    texts = []
    for block in content:
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise _bad(f"{where} blocks must be objects with a type")
        if block["type"] == "text":
            if not isinstance(block.get("text"), str):
                raise _bad(f"{where} text blocks need a text")
            texts.append(block["text"])
    return texts


class CohereDialect:
    """The v2 Chat API wire format."""

    def authenticate(self, inbound: Inbound) -> None:
        key = bearer_token(inbound.headers)
        if not key:
            raise _fail(401, "no api key supplied", "unauthorized")
        if refused(key):
            raise _fail(401, "invalid api token", "unauthorized")

    def parse(self, inbound: Inbound, models: ModelTable) -> Chat:
        body = load_object(inbound.body)
        if body is None:
            raise _bad("the request body must be a JSON object")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _bad("model must be a non-empty string")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _bad("messages must be a non-empty list")
        texts: list[str] = []
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in ROLES:
                raise _bad(f"messages[{i}].role must be one of {', '.join(ROLES)}")
            if message.get("content") is not None:
                texts += _content_texts(message["content"], f"messages[{i}].content")
            elif message["role"] != "assistant":
                raise _bad(f"messages[{i}].content is required")
        max_tokens = body.get("max_tokens")
        if max_tokens is not None:
            limit = models.max_output(inbound.provider, model)
            if not is_int(max_tokens) or not 1 <= max_tokens <= limit:
                raise _bad(f"max_tokens must be an integer between 1 and {limit}")
        temperature = body.get("temperature")
        if temperature is not None and (not is_number(temperature) or temperature < 0):
            raise _bad("temperature must be a non-negative number")
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise _bad("stream must be a boolean")
        return Chat(model, tuple(texts), max_tokens, stream)

    def _usage(self, completion: Completion) -> dict[str, Any]:
        counts = {"input_tokens": completion.input_tokens, "output_tokens": completion.output_tokens}
        return {"billed_units": dict(counts), "tokens": dict(counts)}

    def _finish(self, completion: Completion) -> str:
        return "MAX_TOKENS" if completion.truncated else "COMPLETE"

    def _headers(self, meta: Meta) -> dict[str, str]:
        return {"x-trace-id": meta.request_id}

    def render(self, chat: Chat, completion: Completion, meta: Meta) -> Reply:
        body = {
            "id": meta.request_id,
            "finish_reason": self._finish(completion),
            "message": {"role": "assistant", "content": [{"type": "text", "text": completion.text}]},
            "usage": self._usage(completion),
        }
        return json_reply(200, body, self._headers(meta))

    def stream(self, chat: Chat, completion: Completion, meta: Meta) -> StreamPlan:
        def event(kind: str, **fields: Any) -> bytes:
            return sse({"type": kind, **fields}, kind)

        start = {
            "message": {
                "role": "assistant",
                "content": [],
                "tool_plan": "",
                "tool_calls": [],
                "citations": [],
            }
        }
        return StreamPlan(
            head=(
                event("message-start", id=meta.request_id, delta=start),
                event("content-start", index=0, delta={"message": {"content": {"type": "text", "text": ""}}}),
            ),
            content=tuple(
                event("content-delta", index=0, delta={"message": {"content": {"text": piece}}})
                for piece in completion.chunks
            ),
            tail=(
                event("content-end", index=0),
                event(
                    "message-end",
                    id=meta.request_id,
                    delta={"finish_reason": self._finish(completion), "usage": self._usage(completion)},
                ),
            ),
            media_type="text/event-stream",
            headers=self._headers(meta),
        )

    def error(self, status: int, message: str, meta: Meta) -> Reply:
        return json_reply(status, _error_body(message, meta), self._headers(meta))

    def list_models(self, names: tuple[str, ...], meta: Meta) -> Reply:
        data = [{"name": n, "endpoints": ["chat"], "finetuned": False, "features": []} for n in names]
        return json_reply(200, {"models": data}, self._headers(meta))
