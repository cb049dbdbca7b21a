"""Bedrock Converse and ConverseStream: SigV4-signed requests (signature unchecked), event-stream replies."""

from __future__ import annotations

from typing import Any

from app.simulator.completion import Chat, Completion
from app.simulator.eventstream import encode_event
from app.simulator.providers import ModelTable
from app.simulator.wire import (
    Inbound,
    Meta,
    Reply,
    StreamPlan,
    WireError,
    dumps,
    is_int,
    is_number,
    json_reply,
    load_object,
    refused,
)

_ERROR_TYPES = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
_SIMULATED_LATENCY_MS = 120


def _reply(status: int, error_type: str, message: str, meta: Meta | None = None) -> Reply:
    headers = {"x-amzn-ErrorType": f"{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    if meta is not None:
        headers["x-amzn-RequestId"] = meta.request_id
    return json_reply(status, {"message": message}, headers)


def _bad(message: str) -> WireError:
    return WireError(_reply(400, "ValidationException", message), "bad_request")


def _constraint(value: Any, where: str, rule: str) -> WireError:
    return _bad(
        f"1 validation error detected: Value '{value}' at '{where}' failed to satisfy constraint: {rule}"
    )


def _access_key(authorization: str) -> str:
    # "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/bedrock/aws4_request, SignedHeaders=…"
    _, _, rest = authorization.partition("Credential=")
    return rest.split("/", 1)[0]


def _block_texts(blocks: Any, where: str) -> list[str]:
    if not isinstance(blocks, list):
        raise _constraint(blocks, where, "Member must be a list")
    texts = []
    for block in blocks:
        if not isinstance(block, dict):
            raise _constraint(block, where, "Member must contain content blocks")
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
    return texts


class BedrockDialect:
    """The Converse API (bedrock-runtime), non-streamed and event-stream."""

    def authenticate(self, inbound: Inbound) -> None:
        authorization = inbound.headers.get("authorization", "")
        if not authorization:
            raise WireError(
                _reply(403, "MissingAuthenticationTokenException", "Missing Authentication Token"),
                "unauthorized",
            )
        if refused(_access_key(authorization)):
            raise WireError(
                _reply(
                    403,
                    "UnrecognizedClientException",
                    "The security token included in the request is invalid.",
                ),
                "unauthorized",
            )

    def parse(self, inbound: Inbound, models: ModelTable) -> Chat:
        model = inbound.path_params.get("model_id", "")
        body = load_object(inbound.body)
        if body is None:
            raise _bad("The request body must be a JSON object.")
        messages = body.get("messages")
        if messages is None:
            raise _bad(
                "1 validation error detected: Value null at 'messages' failed to satisfy constraint: "
                "Member must not be null"
            )
        if (
            not isinstance(messages, list)
            or not messages
            or not isinstance(messages[0], dict)
            or messages[0].get("role") != "user"
        ):
            raise _bad(
                "A conversation must start with a user message. Try again with a conversation that starts "
                "with a user message."
            )
        texts = _block_texts(body["system"], "system") if body.get("system") is not None else []
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
                raise _constraint(
                    message.get("role") if isinstance(message, dict) else message,
                    f"messages.{i + 1}.member.role",
                    "Member must satisfy enum value set: [user, assistant]",
                )
            texts += _block_texts(message.get("content"), f"messages.{i + 1}.member.content")
        config = body.get("inferenceConfig") or {}
        if not isinstance(config, dict):
            raise _constraint(config, "inferenceConfig", "Member must be an object")
        max_tokens = config.get("maxTokens")
        if max_tokens is not None:
            if not is_int(max_tokens) or max_tokens < 1:
                raise _constraint(
                    max_tokens,
                    "inferenceConfig.maxTokens",
                    "Member must have value greater than or equal to 1",
                )
            limit = models.max_output(inbound.provider, model)
            if max_tokens > limit:
                raise _bad(
                    f"The maximum tokens you requested exceeds the model limit of {limit}. Try again with a "
                    f"maximum tokens value that is lower than {limit}."
                )
        temperature = config.get("temperature")
        if temperature is not None and (not is_number(temperature) or not 0 <= temperature <= 1):
            raise _constraint(
                temperature, "inferenceConfig.temperature", "Member must have value less than or equal to 1"
            )
        return Chat(model, tuple(texts), max_tokens, inbound.path.endswith("/converse-stream"))

    def _usage(self, completion: Completion) -> dict[str, Any]:
        return {
            "inputTokens": completion.input_tokens,
            "outputTokens": completion.output_tokens,
            "totalTokens": completion.input_tokens + completion.output_tokens,
        }

    def _stop(self, completion: Completion) -> str:
        return "max_tokens" if completion.truncated else "end_turn"

    def render(self, chat: Chat, completion: Completion, meta: Meta) -> Reply:
        body = {
            "output": {"message": {"role": "assistant", "content": [{"text": completion.text}]}},
            "stopReason": self._stop(completion),
            "usage": self._usage(completion),
            "metrics": {"latencyMs": _SIMULATED_LATENCY_MS},
        }
        return json_reply(200, body, {"x-amzn-RequestId": meta.request_id})

    def stream(self, chat: Chat, completion: Completion, meta: Meta) -> StreamPlan:
        def event(kind: str, payload: dict[str, Any]) -> bytes:
            return encode_event(kind, dumps(payload))

        return StreamPlan(
            head=(event("messageStart", {"role": "assistant"}),),
            content=tuple(
                event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}})
                for piece in completion.chunks
            ),
            tail=(
                event("contentBlockStop", {"contentBlockIndex": 0}),
                event("messageStop", {"stopReason": self._stop(completion)}),
                event(
                    "metadata",
                    {"usage": self._usage(completion), "metrics": {"latencyMs": _SIMULATED_LATENCY_MS}},
                ),
            ),
            media_type="application/vnd.amazon.eventstream",
            headers={"x-amzn-RequestId": meta.request_id},
        )

    def error(self, status: int, message: str, meta: Meta) -> Reply:
        return _reply(status, _ERROR_TYPES.get(status, "InternalServerException"), message, meta)

    def list_models(self, names: tuple[str, ...], meta: Meta) -> Reply:
        return json_reply(200, {"modelSummaries": [{"modelId": n} for n in names]})
