"""OpenAI chat completions on the wire: the request as the SDKs send it, and the bodies we answer.

The router's own hints ride along as extra body fields (`task_type`, `budget`, `region`,
`requires_sla`, `requires_compliance`), which the SDKs send through `extra_body`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.config.enums import BudgetTier, Region, TaskType
from app.errors import BadRequest
from app.execution.schemas import MAX_OUTPUT_TOKENS
from app.providers.base import Usage
from app.routing.schemas import ChatMessage

# Accepted and not forwarded: sampling knobs the provider-neutral request does not carry yet.
# They are named back in the `x-router-ignored-params` response header.
IGNORED = ("top_p", "stop", "frequency_penalty", "presence_penalty", "seed", "logit_bias",
           "metadata", "store", "service_tier", "parallel_tool_calls", "reasoning_effort",
           "web_search_options", "verbosity", "prompt_cache_key", "safety_identifier")
# Refused when set to anything but their default: ignoring them would change the answer's shape.
UNSUPPORTED = ("tools", "tool_choice", "functions", "function_call", "response_format", "logprobs",
               "top_logprobs", "audio", "modalities", "prediction")
UNSUPPORTED_DEFAULTS: dict[str, tuple[Any, ...]] = {
    "tools": (None, []), "tool_choice": (None, "none"), "functions": (None, []),
    "function_call": (None, "none"), "response_format": (None, {"type": "text"}),
    "logprobs": (None, False), "top_logprobs": (None, 0), "audio": (None,),
    "modalities": (None, ["text"]), "prediction": (None,),
}


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """What an OpenAI SDK sends to POST /v1/chat/completions, plus the router's hints."""

    model_config = ConfigDict(extra="allow")

    model: Annotated[str, Field(min_length=1, max_length=256)]
    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=1000)]
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    max_tokens: Annotated[int, Field(ge=1, le=MAX_OUTPUT_TOKENS)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1, le=MAX_OUTPUT_TOKENS)] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None
    n: Annotated[int, Field(ge=1, le=128)] | None = None
    user: Annotated[str, Field(max_length=128)] | None = None
    task_type: TaskType | None = None
    budget: BudgetTier | None = None
    region: Region | None = None
    requires_sla: bool | None = None
    requires_compliance: bool | None = None

    @model_validator(mode="after")
    def _openai_rules(self) -> ChatCompletionRequest:
        if self.stream_options is not None and not self.stream:
            raise ValueError("The 'stream_options' parameter is only allowed when 'stream' is enabled.")
        return self

    @property
    def output_cap(self) -> int | None:
        """The answer's token cap: `max_completion_tokens` (current name) or `max_tokens`."""
        return self.max_completion_tokens or self.max_tokens

    @property
    def include_usage(self) -> bool:
        return bool(self.stream and self.stream_options and self.stream_options.include_usage)

    def ignored(self) -> list[str]:
        """The accepted fields we do not forward, as sent."""
        extra = self.model_extra or {}
        sent = [name for name in ("top_p", "stop") if getattr(self, name) is not None]
        return sent + [name for name in IGNORED if extra.get(name) is not None]

    def check_supported(self) -> None:
        """400 for what the router cannot honour: n > 1, tools, structured output, unknown fields."""
        if self.n not in (None, 1):
            raise unsupported("n", f"n={self.n} is not supported: the router returns one choice; send n=1")
        extra = self.model_extra
        if not extra:  # the usual request: nothing beyond the declared fields
            return
        for name in UNSUPPORTED:
            if name in extra and extra[name] not in UNSUPPORTED_DEFAULTS[name]:
                raise unsupported(name, f"'{name}' is not supported by the router yet; leave it out")
        unknown = sorted(set(extra) - set(IGNORED) - set(UNSUPPORTED))
        if unknown:
            raise unsupported(unknown[0], f"Unrecognized request argument supplied: {unknown[0]}")


def unsupported(param: str, message: str) -> BadRequest:
    return BadRequest(message, details={"param": param})


def completion_id(decision_id: str) -> str:
    return f"chatcmpl-{decision_id}"


def model_id(provider: str, model: str) -> str:
    """How the API names a catalog model (and what `model` pins): `provider/model`."""
    return f"{provider}/{model}"


def usage_body(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def completion_body(
    *, decision_id: str, model: str, created: int, content: str, finish_reason: str | None,
    usage: Usage, router: dict[str, Any],
) -> dict[str, Any]:
    """A `chat.completion` object; `router` carries who answered, the cost and every attempt."""
    return {
        "id": completion_id(decision_id),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": None},
            "logprobs": None,
            "finish_reason": finish_reason or "stop",
        }],
        "usage": usage_body(usage),
        "system_fingerprint": None,
        "router": router,
    }


def chunk_body(
    *, chunk_id: str, model: str, created: int, delta: dict[str, Any] | None = None,
    finish_reason: str | None = None, usage: Usage | None = None, include_usage: bool = False,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A `chat.completion.chunk`: a delta and/or finish reason, or (no choices) the final usage.

    With `include_usage` every chunk carries `usage: null` but the last, as OpenAI streams do.
    """
    body: dict[str, Any] = {"id": chunk_id, "object": "chat.completion.chunk", "created": created,
                            "model": model, "system_fingerprint": None, "choices": []}
    if delta is not None or finish_reason is not None:
        body["choices"] = [{"index": 0, "delta": delta or {}, "logprobs": None,
                            "finish_reason": finish_reason}]
    if usage is not None:
        body["usage"] = usage_body(usage)
    elif include_usage:
        body["usage"] = None
    if extra:
        body.update(extra)
    return body
