"""Gemini generateContent / streamGenerateContent, for the Gemini API (API key) and Vertex AI (OAuth)."""

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
    dumps,
    is_int,
    is_number,
    json_reply,
    load_object,
    refused,
    sse,
)

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_METHODS = {"generateContent": False, "streamGenerateContent": True}
_FIELDS = {"contents", "model", "tools", "labels", "store"} | {
    name
    for pair in (
        ("generationConfig", "generation_config"),
        ("systemInstruction", "system_instruction"),
        ("safetySettings", "safety_settings"),
        ("toolConfig", "tool_config"),
        ("cachedContent", "cached_content"),
        ("serviceTier", "service_tier"),
        ("continuationToken", "continuation_token"),
    )
    for name in pair
}
_NO_KEY = (
    "Method doesn't allow unregistered callers (callers without established identity). Please use API Key "
    "or other form of API consumer identity to call this API."
)
_MISSING_CREDENTIAL = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie "
    "or other valid authentication credential."
)


def _error_body(status: int, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": _STATUS_NAMES.get(status, "UNKNOWN"),
    }
    if details:
        error["details"] = details
    return {"error": error}


def _fail(status: int, message: str, outcome: str, details: list[dict[str, Any]] | None = None) -> WireError:
    return WireError(json_reply(status, _error_body(status, message, details)), outcome)


def _bad(message: str) -> WireError:
    return _fail(400, message, "bad_request")


def _get(body: dict[str, Any], camel: str, snake: str) -> Any:
    return body[camel] if camel in body else body.get(snake)


def _part_texts(content: Any, where: str) -> list[str]:
    if not isinstance(content, dict):
        raise _bad(f"Invalid JSON payload received. Invalid value at '{where}': expected an object.")
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        raise _bad(f"* GenerateContentRequest.{where}.parts: contents.parts must not be empty.")
    return [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)]


class GeminiDialect:
    """The Gemini API: key in `x-goog-api-key` or `?key=`, versions v1 / v1beta / v1alpha."""

    versions: tuple[str, ...] = ("v1", "v1beta", "v1alpha")

    def authenticate(self, inbound: Inbound) -> None:
        key = inbound.headers.get("x-goog-api-key", "") or inbound.query.get("key", "")
        if not key:
            raise _fail(403, _NO_KEY, "unauthorized")
        if refused(key):
            info = {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
            }
            raise _fail(400, "API key not valid. Please pass a valid API key.", "unauthorized", [info])

    def _target(self, inbound: Inbound) -> tuple[str, bool]:
        model, _, method = inbound.path_params.get("target", "").rpartition(":")
        if inbound.path_params.get("version") not in self.versions or method not in _METHODS or not model:
            raise _fail(404, "Requested entity was not found.", "not_found")
        return model, _METHODS[method]

    def parse(self, inbound: Inbound, models: ModelTable) -> Chat:
        model, stream = self._target(inbound)
        body = load_object(inbound.body)
        if body is None:
            raise _bad("Invalid JSON payload received. Expected an object.")
        unknown = sorted(set(body) - _FIELDS)
        if unknown:
            raise _bad(f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.')
        contents = body.get("contents")
        if not contents:
            raise _bad("* GenerateContentRequest.contents: contents is not specified")
        if not isinstance(contents, list):
            raise _bad("Invalid JSON payload received. Invalid value at 'contents': expected a list.")
        texts: list[str] = []
        system = _get(body, "systemInstruction", "system_instruction")
        if system is not None:
            texts += _part_texts(system, "system_instruction")
        for i, content in enumerate(contents):
            if isinstance(content, dict) and content.get("role") not in (None, "user", "model"):
                raise _bad("Please use a valid role: user, model.")
            texts += _part_texts(content, f"contents[{i}]")
        max_tokens = None
        config = _get(body, "generationConfig", "generation_config") or {}
        if not isinstance(config, dict):
            raise _bad(
                "Invalid JSON payload received. Invalid value at 'generation_config': expected an object."
            )
        value = _get(config, "maxOutputTokens", "max_output_tokens")
        if value is not None:
            if not is_int(value):
                raise _bad(
                    "Invalid value at 'generation_config.max_output_tokens' (TYPE_INT32), "
                    + dumps(value).decode()
                )
            limit = models.max_output(inbound.provider, model)
            if not 1 <= value <= limit:
                raise _bad(
                    f"Unable to submit request because it has a maxOutputTokens value of {value} but the "
                    f"supported range is from 1 (inclusive) to {limit + 1} (exclusive). Update the value "
                    "and try again."
                )
            max_tokens = int(value)
        temperature = config.get("temperature")
        if temperature is not None and (not is_number(temperature) or not 0 <= temperature <= 2):
            raise _bad(
                f"Unable to submit request because it has a temperature value of {temperature} but the "
                "supported range is from 0 (inclusive) to 2.0001 (exclusive)."
            )
        json_array = stream and inbound.query.get("alt") != "sse"
        return Chat(model.removeprefix("models/"), tuple(texts), max_tokens, stream, json_array=json_array)

    def _response(
        self, chat: Chat, completion: Completion, meta: Meta, text: str, output_tokens: int, finish: bool
    ) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
        if finish:
            candidate["finishReason"] = "MAX_TOKENS" if completion.truncated else "STOP"
        usage = {
            "promptTokenCount": completion.input_tokens,
            "candidatesTokenCount": output_tokens,
            "totalTokenCount": completion.input_tokens + output_tokens,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": completion.input_tokens}],
        }
        return {
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": chat.model,
            "responseId": meta.request_id,
        }

    def render(self, chat: Chat, completion: Completion, meta: Meta) -> Reply:
        body = self._response(chat, completion, meta, completion.text, completion.output_tokens, True)
        return json_reply(200, body)

    def stream(self, chat: Chat, completion: Completion, meta: Meta) -> StreamPlan:
        frames: list[dict[str, Any]] = []
        emitted = ""
        for piece in completion.chunks:
            emitted += piece
            tokens = -(-len(emitted) // 4)
            frames.append(self._response(chat, completion, meta, piece, tokens, False))
        last = self._response(chat, completion, meta, "", completion.output_tokens, True)
        if not chat.json_array:  # alt=sse: one Server-Sent Event per response chunk
            return StreamPlan(
                head=(),
                content=tuple(sse(f, sep="\r\n\r\n") for f in frames),
                tail=(sse(last, sep="\r\n\r\n"),),
                media_type="text/event-stream",
            )
        # Without alt=sse the API streams one JSON array, element by element.
        content = tuple((b"[" if i == 0 else b",\r\n") + dumps(f) for i, f in enumerate(frames))
        tail = ((b",\r\n" if frames else b"[") + dumps(last) + b"]",)
        return StreamPlan(head=(), content=content, tail=tail, media_type="application/json; charset=UTF-8")

    def error(self, status: int, message: str, meta: Meta) -> Reply:
        return json_reply(status, _error_body(status, message))

    def list_models(self, names: tuple[str, ...], meta: Meta) -> Reply:
        data = [
            {"name": f"models/{n}", "displayName": n, "supportedGenerationMethods": list(_METHODS)}
            for n in names
        ]
        return json_reply(200, {"models": data})


class VertexDialect(GeminiDialect):
    """Vertex AI: the same body, under projects/{p}/locations/{l}/publishers/google, with a Bearer token."""

    versions: tuple[str, ...] = ("v1", "v1beta1")

    def authenticate(self, inbound: Inbound) -> None:
        token = bearer_token(inbound.headers) or inbound.headers.get("x-goog-api-key", "")
        if not token:
            raise _fail(401, _MISSING_CREDENTIAL, "unauthorized")
        if refused(token):
            raise _fail(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                "login cookie or other valid authentication credential.",
                "unauthorized",
            )
