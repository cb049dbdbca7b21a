"""The request of POST /execute: the route request plus what to send and how long to wait."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, model_validator

from app.routing.schemas import RouteRequest

MAX_OUTPUT_TOKENS = 32_768


class ExecuteRequest(RouteRequest):
    """Routing constraints plus `messages` (OpenAI format) or `prompt`, `max_tokens`, `temperature`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{
            "task_type": "chat", "budget": "low", "region": "global",
            "messages": [{"role": "system", "content": "Answer briefly."},
                         {"role": "user", "content": "What does a circuit breaker do?"}],
            "max_tokens": 300, "temperature": 0.2,
        }]},
    )

    max_tokens: Annotated[int, Field(ge=1, le=MAX_OUTPUT_TOKENS)] | None = Field(
        default=None, description="Cap on the answer's tokens; also the routing's expected output.")
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    stream: bool = Field(default=False, description="Streaming is served by POST /v1/chat/completions.")
    deadline_s: Annotated[float, Field(ge=0.1, le=600)] | None = Field(
        default=None, description="Overall deadline for every attempt (default: the catalog's, 60 s).")

    @model_validator(mode="after")
    def _has_prompt(self) -> ExecuteRequest:
        if self.prompt is None and not self.messages:
            raise ValueError("give `messages` (OpenAI format) or `prompt`")
        if self.stream:
            raise ValueError("`stream` is served by POST /v1/chat/completions; send it there")
        if self.expected_output_tokens is None and self.max_tokens is not None:
            self.expected_output_tokens = self.max_tokens
        return self
