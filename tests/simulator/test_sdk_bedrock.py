"""boto3's bedrock-runtime client against the simulator: Converse, ConverseStream (event stream), errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from app.config.catalog import Catalog
from app.simulator import SimulatorServer
from tests.simulator.conftest import tokens

SYSTEM = "Be concise."
PROMPT = "Explain SigV4 in one sentence."


@pytest.fixture
def clients() -> Iterator[list[Any]]:
    made: list[Any] = []
    yield made
    for client in made:
        client.close()


def _client(clients: list[Any], endpoint: str, **config: Any) -> Any:
    client = boto3.client(
        "bedrock-runtime",
        endpoint_url=endpoint,
        region_name="eu-central-1",
        aws_access_key_id=config.pop("key", "AKIDEXAMPLE"),
        aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 1}, **config),
    )
    clients.append(client)
    return client


@pytest.mark.parametrize("model", ["anthropic.claude-sonnet-4-5-20250929-v1:0", "amazon.nova-pro-v1:0"])
def test_converse_and_stream_with_usage(
    clients: list[Any], sim: SimulatorServer, catalog: Catalog, model: str
) -> None:
    for deployment in catalog.providers["bedrock"].deployments:
        client = _client(clients, sim.base_url("bedrock", str(deployment.base_url)))
        request: dict[str, Any] = {
            "modelId": model,
            "system": [{"text": SYSTEM}],
            "messages": [{"role": "user", "content": [{"text": PROMPT}]}],
            "inferenceConfig": {"maxTokens": 1000, "temperature": 0.2},
        }
        reply = client.converse(**request)
        text = "".join(block["text"] for block in reply["output"]["message"]["content"])
        assert reply["stopReason"] == "end_turn"
        assert reply["usage"] == {
            "inputTokens": tokens(SYSTEM) + tokens(PROMPT),
            "outputTokens": tokens(text),
            "totalTokens": tokens(SYSTEM) + tokens(PROMPT) + tokens(text),
        }

        events = list(client.converse_stream(**request)["stream"])
        kinds = [next(iter(e)) for e in events]
        assert kinds[0] == "messageStart" and kinds[-3:] == ["contentBlockStop", "messageStop", "metadata"]
        assert (
            "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
            == text
        )
        assert events[-1]["metadata"]["usage"] == reply["usage"]
        assert events[-2]["messageStop"]["stopReason"] == "end_turn"


def test_errors_as_aws_exceptions(clients: list[Any], sim: SimulatorServer) -> None:
    endpoint = sim.base_url("bedrock")
    message = [{"role": "user", "content": [{"text": "hi"}]}]
    with pytest.raises(ClientError) as bad:
        _client(clients, endpoint).converse(
            modelId="anthropic.claude-haiku-4-5-20251001-v1:0",
            messages=message,
            inferenceConfig={"maxTokens": 300_000},
        )
    assert bad.value.response["Error"]["Code"] == "ValidationException"
    assert bad.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as unsigned:
        _client(clients, endpoint, signature_version=UNSIGNED).converse(
            modelId="amazon.nova-pro-v1:0", messages=message
        )
    assert unsigned.value.response["Error"]["Code"] == "MissingAuthenticationTokenException"
    with pytest.raises(ClientError) as refused:
        _client(clients, endpoint, key="invalid-key").converse(
            modelId="amazon.nova-pro-v1:0", messages=message
        )
    assert refused.value.response["Error"]["Code"] == "UnrecognizedClientException"
