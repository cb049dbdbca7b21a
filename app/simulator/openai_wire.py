"""OpenAI chat completions (also DeepSeek, Mistral, OpenRouter, Perplexity, Hugging Face) and Azure."""

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

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_denied",
    404: "invalid_request_error",
    429: "requests",
}
_ERROR_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded"}


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    return "an object"


def _bad(message: str, param: str | None = None, code: str | None = None) -> WireError:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
    return WireError(json_reply(400, body), "bad_request")


def _message_texts(messages: list[Any]) -> list[str]:
    texts: list[str] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _bad(
                f"Invalid type for '{where}': expected an object, but got {_type_name(message)} instead.",
                where,
                "invalid_type",
            )
        role = message.get("role")
        if role is None:
            raise _bad(
                f"Missing required parameter: '{where}.role'.", f"{where}.role", "missing_required_parameter"
            )
        if role not in ROLES:
            allowed = ", ".join(f"'{r}'" for r in ROLES)
            raise _bad(
                f"Invalid value: '{role}'. Supported values are: {allowed}.", f"{where}.role", "invalid_value"
            )
        content = message.get("content")
        if content is None:
            if role != "assistant":
                raise _bad(
                    f"Missing required parameter: '{where}.content'.",
                    f"{where}.content",
                    "missing_required_parameter",
                )
        elif isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            for j, part in enumerate(content):
                if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                    raise _bad(
                        f"Invalid type for '{where}.content[{j}]': expected an object with a 'type'.",
                        f"{where}.content[{j}]",
                        "invalid_type",
                    )
                if part["type"] == "text":
                    if not isinstance(part.get("text"), str):
                        raise _bad(
                            f"Missing required parameter: '{where}.content[{j}].text'.",
                            f"{where}.content[{j}].text",
                            "missing_required_parameter",
                        )
                    texts.append(part["text"])
        else:
            raise _bad(
                f"Invalid type for '{where}.content': expected one of a string or array of objects, "
                f"but got {_type_name(content)} instead.",
                f"{where}.content",
                "invalid_type",
            )
    return texts


def _max_tokens(body: dict[str, Any], limit: int) -> int | None:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if not is_int(value):
            raise _bad(
                f"Invalid type for '{name}': expected an integer, but got {_type_name(value)} instead.",
                name,
                "invalid_type",
            )
        if value < 1:
            raise _bad(
                f"Invalid '{name}': integer below minimum value. Expected a value >= 1, but got {value} "
                "instead.",
                name,
                "integer_below_min_value",
            )
        if value > limit:
            raise _bad(
                f"{name} is too large: {value}. This model supports at most {limit} completion tokens, "
                f"whereas you provided {value}.",
                name,
                "invalid_value",
            )
        return int(value)
    return None


class OpenAIDialect:
    """The chat completions wire format, as OpenAI and the OpenAI-compatible providers speak it."""

    def authenticate(self, inbound: Inbound) -> None:
        key = bearer_token(inbound.headers)
        if not key:
            raise WireError(self.error(401, _NO_KEY, None, code=None), "unauthorized")
        if refused(key):
            raise WireError(self.error(401, "Incorrect API key provided.", None), "unauthorized")

    def model_name(self, inbound: Inbound, body: dict[str, Any]) -> str:
        model = body.get("model")
        if model is None:
            raise _bad("you must provide a model parameter")
        if not isinstance(model, str) or not model:
            raise _bad(
                f"Invalid type for 'model': expected a string, but got {_type_name(model)} instead.",
                "model",
                "invalid_type",
            )
        return model

    def parse(self, inbound: Inbound, models: ModelTable) -> Chat:
        body = load_object(inbound.body)
        if body is None:
            raise _bad("We could not parse the JSON body of your request. The API expects a JSON object.")
        model = self.model_name(inbound, body)
        messages = body.get("messages")
        if messages is None:
            raise _bad("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
        if not isinstance(messages, list):
            raise _bad(
                f"Invalid type for 'messages': expected an array, but got {_type_name(messages)} instead.",
                "messages",
                "invalid_type",
            )
        if not messages:
            raise _bad(
                "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
                "empty array instead.",
                "messages",
                "empty_array",
            )
        texts = _message_texts(messages)
        max_tokens = _max_tokens(body, models.max_output(inbound.provider, model))
        temperature = body.get("temperature")
        if temperature is not None and (not is_number(temperature) or not 0 <= temperature <= 2):
            raise _bad(
                f"Invalid 'temperature': expected a number between 0 and 2, but got {temperature!r}.",
                "temperature",
                "invalid_value",
            )
        stream = body.get("stream", False)
        if stream is not None and not isinstance(stream, bool):
            raise _bad(
                f"Invalid type for 'stream': expected a boolean, but got {_type_name(stream)} instead.",
                "stream",
                "invalid_type",
            )
        options = body.get("stream_options")
        if options is not None and not stream:
            raise _bad(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options"
            )
        if options is not None and not isinstance(options, dict):
            raise _bad(
                "Invalid type for 'stream_options': expected an object.", "stream_options", "invalid_type"
            )
        include_usage = bool(options and options.get("include_usage"))
        return Chat(model, tuple(texts), max_tokens, bool(stream), include_usage)

    def _usage(self, completion: Completion) -> dict[str, Any]:
        return {
            "prompt_tokens": completion.input_tokens,
            "completion_tokens": completion.output_tokens,
            "total_tokens": completion.input_tokens + completion.output_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def headers(self, meta: Meta) -> dict[str, str]:
        return {"x-request-id": f"req_{meta.request_id}"}

    def render(self, chat: Chat, completion: Completion, meta: Meta) -> Reply:
        body = {
            "id": f"chatcmpl-{meta.request_id}",
            "object": "chat.completion",
            "created": meta.created,
            "model": chat.model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": completion.text,
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": "length" if completion.truncated else "stop",
                }
            ],
            "usage": self._usage(completion),
            "service_tier": "default",
            "system_fingerprint": "fp_simulator",
        }
        return json_reply(200, body, self.headers(meta))

    def stream(self, chat: Chat, completion: Completion, meta: Meta) -> StreamPlan:
        base: dict[str, Any] = {
            "id": f"chatcmpl-{meta.request_id}",
            "object": "chat.completion.chunk",
            "created": meta.created,
            "model": chat.model,
            "system_fingerprint": "fp_simulator",
        }
        if chat.include_usage:
            base["usage"] = None

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return sse({**base, "choices": [choice]})

        tail = [chunk({}, "length" if completion.truncated else "stop")]
        if chat.include_usage:
            tail.append(sse({**base, "choices": [], "usage": self._usage(completion)}))
        tail.append(b"data: [DONE]\n\n")
        return StreamPlan(
            head=(chunk({"role": "assistant", "content": "", "refusal": None}),),
            content=tuple(chunk({"content": piece}) for piece in completion.chunks),
            tail=tuple(tail),
            media_type="text/event-stream; charset=utf-8",
            headers=self.headers(meta),
        )

    def error(self, status: int, message: str, meta: Meta | None, *, code: str | None = "") -> Reply:
        err_type = _ERROR_TYPES.get(status, "server_error")
        err_code = _ERROR_CODES.get(status) if code == "" else code
        body = {"error": {"message": message, "type": err_type, "param": None, "code": err_code}}
        return json_reply(status, body, self.headers(meta) if meta else {})

    def list_models(self, names: tuple[str, ...], meta: Meta) -> Reply:
        data = [
            {"id": n, "object": "model", "created": 1_700_000_000, "owned_by": meta.provider} for n in names
        ]
        return json_reply(200, {"object": "list", "data": data}, self.headers(meta))


class AzureDialect(OpenAIDialect):
    """Azure OpenAI: deployment in the path, api-version in the query, `api-key` header."""

    def authenticate(self, inbound: Inbound) -> None:
        if "deployment" in inbound.path_params and not inbound.query.get("api-version"):
            raise WireError(self.error(404, "Resource not found", None), "not_found")
        key = inbound.headers.get("api-key", "") or bearer_token(inbound.headers)
        if not key or refused(key):
            message = (
                "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide "
                "a valid key for an active subscription and use a correct regional API endpoint for your "
                "resource."
            )
            raise WireError(self.error(401, message, None), "unauthorized")

    def model_name(self, inbound: Inbound, body: dict[str, Any]) -> str:
        deployment = inbound.path_params.get("deployment")
        if deployment:
            return deployment
        return super().model_name(inbound, body)

    def headers(self, meta: Meta) -> dict[str, str]:
        return {"apim-request-id": meta.request_id, "x-request-id": meta.request_id}

    def error(self, status: int, message: str, meta: Meta | None, *, code: str | None = "") -> Reply:
        if status == 400:
            return super().error(status, message, meta, code=code)
        body = {"error": {"code": str(status), "message": message}}
        return json_reply(status, body, self.headers(meta) if meta else {})
