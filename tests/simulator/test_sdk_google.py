"""The official google-genai SDK against the simulator: Gemini API key mode and Vertex AI mode."""

from __future__ import annotations

import pytest
from google import genai
from google.genai import errors, types
from google.oauth2.credentials import Credentials

from app.simulator import SimulatorServer
from tests.simulator.conftest import tokens

SYSTEM = "Reply in French."
PROMPT = "Describe the Eiffel Tower."
MODEL = "gemini-2.5-flash"


def _check_chat_and_stream(client: genai.Client) -> None:
    config = types.GenerateContentConfig(system_instruction=SYSTEM, max_output_tokens=2048)
    reply = client.models.generate_content(model=MODEL, contents=PROMPT, config=config)
    text = reply.text or ""
    assert PROMPT in text
    usage = reply.usage_metadata
    assert usage is not None
    assert usage.prompt_token_count == tokens(SYSTEM) + tokens(PROMPT)
    assert usage.candidates_token_count == tokens(text)
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count
    assert reply.candidates and reply.candidates[0].finish_reason == types.FinishReason.STOP

    chunks = list(client.models.generate_content_stream(model=MODEL, contents=PROMPT, config=config))
    assert "".join(c.text or "" for c in chunks) == text
    last = chunks[-1]
    assert last.candidates and last.candidates[0].finish_reason == types.FinishReason.STOP
    assert last.usage_metadata is not None
    assert last.usage_metadata.candidates_token_count == usage.candidates_token_count


@pytest.mark.parametrize("api_version", ["v1beta", "v1"])
def test_gemini_api_key_mode(sim: SimulatorServer, api_version: str) -> None:
    with genai.Client(
        api_key="gemini-key",
        http_options=types.HttpOptions(base_url=sim.base_url("gemini"), api_version=api_version),
    ) as client:
        _check_chat_and_stream(client)
    assert sim.stats()["providers"]["gemini"]["by_outcome"] == {"ok": 2}


def test_vertex_mode_with_oauth_token(sim: SimulatorServer) -> None:
    with genai.Client(
        vertexai=True,
        project="demo-project",
        location="europe-west4",
        credentials=Credentials(token="ya29.test-token"),
        http_options=types.HttpOptions(base_url=sim.base_url("vertex_ai")),
    ) as client:
        _check_chat_and_stream(client)
    assert sim.stats()["providers"]["vertex_ai"]["by_outcome"] == {"ok": 2}


def test_gemini_errors_in_google_shape(sim: SimulatorServer) -> None:
    options = types.HttpOptions(base_url=sim.base_url("gemini"), api_version="v1beta")
    with (
        genai.Client(api_key="gemini-key", http_options=options) as client,
        pytest.raises(errors.ClientError) as bad,
    ):
        client.models.generate_content(
            model=MODEL, contents=PROMPT, config=types.GenerateContentConfig(max_output_tokens=70_000)
        )
    assert bad.value.code == 400 and bad.value.status == "INVALID_ARGUMENT"
    assert "maxOutputTokens value of 70000" in (bad.value.message or "")
    with (
        genai.Client(api_key="invalid-key", http_options=options) as refused,
        pytest.raises(errors.ClientError) as key,
    ):
        refused.models.generate_content(model=MODEL, contents=PROMPT)
    assert key.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"
