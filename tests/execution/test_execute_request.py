"""The /execute request: what it accepts, and that a caller can never choose a base URL or key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.execution.schemas import MAX_OUTPUT_TOKENS, ExecuteRequest

BASE = {"task_type": "chat", "budget": "low"}


@pytest.mark.parametrize("field", ["base_url", "api_key", "api_key_env", "headers", "provider_url"])
def test_no_field_can_point_us_elsewhere_or_carry_a_key(field: str) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        ExecuteRequest.model_validate({**BASE, "prompt": "hi", field: "http://attacker.example"})


def test_needs_a_prompt_or_messages_and_refuses_stream_here() -> None:
    with pytest.raises(ValidationError, match="give `messages`"):
        ExecuteRequest.model_validate(BASE)
    with pytest.raises(ValidationError, match="v1/chat/completions"):
        ExecuteRequest.model_validate({**BASE, "prompt": "hi", "stream": True})


def test_max_tokens_is_capped_and_becomes_the_expected_output() -> None:
    with pytest.raises(ValidationError):
        ExecuteRequest.model_validate({**BASE, "prompt": "hi", "max_tokens": MAX_OUTPUT_TOKENS + 1})
    request = ExecuteRequest.model_validate({**BASE, "prompt": "hi", "max_tokens": 900})
    assert request.expected_output_tokens == 900
    explicit = ExecuteRequest.model_validate(
        {**BASE, "prompt": "hi", "max_tokens": 900, "expected_output_tokens": 50}
    )
    assert explicit.expected_output_tokens == 50
