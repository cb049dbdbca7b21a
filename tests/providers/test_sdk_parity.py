"""Our adapters send what the providers' official SDKs send for the same input: URL path, auth
header names and body fields, both captured at the HTTP boundary."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from app.providers.messages import chat_request
from app.providers.pool import ProviderPool
from tests.providers.conftest import KEYS, FakeProvider
from tests.providers.test_cohere_bedrock import BEDROCK_RESPONSE, COHERE_RESPONSE
from tests.providers.test_gemini import DOC_RESPONSE as GEMINI_RESPONSE
from tests.providers.test_openai_chat import DOC_RESPONSE as OPENAI_RESPONSE

AUTH_HEADERS = {"authorization", "api-key", "x-api-key", "anthropic-version", "x-goog-api-key"}
SYSTEM, USER = "You are terse.", "Name three rivers."
ANTHROPIC_RESPONSE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5",
    "content": [{"type": "text", "text": "Nile, Amazon, Danube."}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 12, "output_tokens": 8},
}


def capture(body: Any) -> tuple[list[httpx.Request], httpx.AsyncClient]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return httpx.Response(200, json=body)

    return seen, httpx.AsyncClient(transport=httpx.MockTransport(handler))


def auth_names(request: Any) -> set[str]:
    return {k.lower() for k in request.headers} & AUTH_HEADERS


def assert_same(sdk: Any, ours: httpx.Request) -> None:
    assert sdk.url.path == ours.url.path
    assert dict(sdk.url.params) == dict(ours.url.params)
    assert auth_names(sdk) == auth_names(ours)
    for name in auth_names(sdk):
        assert sdk.headers[name] == ours.headers[name]
    assert orjson.loads(sdk.content) == orjson.loads(ours.content)


async def test_openai_sdk(pool: ProviderPool, fake: FakeProvider) -> None:
    import openai

    seen, http = capture(OPENAI_RESPONSE)
    client = openai.AsyncOpenAI(api_key=KEYS["OPENAI_API_KEY"], http_client=http, max_retries=0)
    await client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}],
        max_completion_tokens=50,
        temperature=0.3,
    )
    fake.reply(body=OPENAI_RESPONSE)
    request = chat_request(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}],
        max_tokens=50,
        temperature=0.3,
    )
    await pool.adapters["openai"].complete(pool.target("openai", "gpt-4o", "default"), request)
    assert_same(seen[0], fake.last)


async def test_openai_sdk_stream_asks_for_usage_like_ours(pool: ProviderPool, fake: FakeProvider) -> None:
    import openai

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return httpx.Response(200, content=b"data: [DONE]\n\n", headers={"content-type": "text/event-stream"})

    client = openai.AsyncOpenAI(
        api_key=KEYS["OPENAI_API_KEY"],
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        max_retries=0,
    )
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": USER}],
        stream=True,
        stream_options={"include_usage": True},
    )
    async for _ in stream:
        pass
    fake.replies.append(lambda r: handler(r))
    async for _ in pool.adapters["openai"].stream(
        pool.target("openai", "gpt-4o-mini", "default"), chat_request(prompt=USER)
    ):
        pass
    assert_same(seen[0], seen[1])


async def test_azure_openai_sdk(pool: ProviderPool, fake: FakeProvider) -> None:
    import openai

    seen, http = capture(OPENAI_RESPONSE)
    client = openai.AsyncAzureOpenAI(
        api_key=KEYS["AZURE_OPENAI_API_KEY"],
        api_version="2024-10-21",
        azure_endpoint="https://example-us.openai.azure.com",
        http_client=http,
        max_retries=0,
    )
    await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": USER}])
    fake.reply(body=OPENAI_RESPONSE)
    await pool.adapters["azure_openai"].complete(
        pool.target("azure_openai", "gpt-4o", "eastus"), chat_request(prompt=USER)
    )
    assert seen[0].url.host == fake.last.url.host
    assert_same(seen[0], fake.last)


async def test_anthropic_sdk(pool: ProviderPool, fake: FakeProvider) -> None:
    import anthropic
    import httpx2  # this SDK ships its own fork of httpx

    seen: list[Any] = []

    def handler(request: Any) -> Any:
        request.read()
        seen.append(request)
        return httpx2.Response(200, json=ANTHROPIC_RESPONSE)

    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    client = anthropic.AsyncAnthropic(api_key=KEYS["ANTHROPIC_API_KEY"], http_client=http, max_retries=0)
    await client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=200,
        system=SYSTEM,
        messages=[{"role": "user", "content": USER}],
    )
    fake.reply(body=ANTHROPIC_RESPONSE)
    request = chat_request(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}],
        max_tokens=200,
        temperature=0.3,
    )  # the temperature is dropped, as the SDK has none
    await pool.adapters["anthropic"].complete(
        pool.target("anthropic", "claude-haiku-4-5", "default"), request
    )
    sdk, ours = seen[0], fake.last
    assert sdk.url.path == ours.url.path
    # Both pin a version; ours is the catalog's `api_version` (this SDK release pins a newer one).
    assert (
        sdk.headers["anthropic-version"]
        and ours.headers["anthropic-version"] == pool.catalog.providers["anthropic"].api_version
    )
    # The API takes the key as `x-api-key` (its reference, and what we send) or as a bearer token
    # (what this SDK release sends): the same key either way.
    sdk_key = sdk.headers.get("x-api-key") or sdk.headers["authorization"].removeprefix("Bearer ")
    assert sdk_key == ours.headers["x-api-key"]
    assert orjson.loads(sdk.content) == orjson.loads(ours.content)


async def test_cohere_v2_sdk(pool: ProviderPool, fake: FakeProvider) -> None:
    import cohere

    seen, http = capture(COHERE_RESPONSE)
    client = cohere.AsyncClientV2(api_key=KEYS["COHERE_API_KEY"], httpx_client=http)
    await client.chat(
        model="command-r-08-2024",
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}],
        max_tokens=30,
    )
    fake.reply(body=COHERE_RESPONSE)
    request = chat_request(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}], max_tokens=30
    )
    await pool.adapters["cohere"].complete(pool.target("cohere", "command-r-08-2024", "default"), request)
    assert_same(seen[0], fake.last)


async def test_google_genai_sdk(pool: ProviderPool, fake: FakeProvider) -> None:
    from google import genai
    from google.genai import types

    seen, http = capture(GEMINI_RESPONSE)
    client = genai.Client(
        api_key=KEYS["GEMINI_API_KEY"], http_options=types.HttpOptions(httpx_async_client=http)
    )
    await client.aio.models.generate_content(
        model="gemini-2.5-flash",
        contents=USER,
        config=types.GenerateContentConfig(system_instruction=SYSTEM, max_output_tokens=40, temperature=0.3),
    )
    fake.reply(body=GEMINI_RESPONSE)
    request = chat_request(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}],
        max_tokens=40,
        temperature=0.3,
    )
    await pool.adapters["gemini"].complete(pool.target("gemini", "gemini-2.5-flash", "default"), request)
    sdk, ours = seen[0], fake.last
    assert sdk.url.path == ours.url.path and auth_names(sdk) == auth_names(ours)
    sdk_body, our_body = orjson.loads(sdk.content), orjson.loads(ours.content)
    assert sdk_body["contents"] == our_body["contents"]
    assert sdk_body["systemInstruction"]["parts"] == our_body["systemInstruction"]["parts"]
    assert sdk_body["generationConfig"] == our_body["generationConfig"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_boto3_bedrock_converse(
    pool: ProviderPool, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3
    from botocore.awsrequest import AWSResponse

    sent: list[Any] = []

    class Raw:
        def stream(self, **_: Any) -> Any:
            yield orjson.dumps(BEDROCK_RESPONSE)

    def before_send(request: Any, **_: Any) -> AWSResponse:
        sent.append(request)
        return AWSResponse(request.url, 200, {"content-type": "application/json"}, Raw())

    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"],
    )
    client.meta.events.register("before-send.bedrock-runtime.Converse", before_send)
    client.converse(
        modelId="amazon.nova-pro-v1:0",
        system=[{"text": SYSTEM}],
        messages=[{"role": "user", "content": [{"text": USER}]}],
        inferenceConfig={"maxTokens": 25},
    )
    fake.reply(body=BEDROCK_RESPONSE)
    request = chat_request(
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}], max_tokens=25
    )
    await pool.adapters["bedrock"].complete(pool.target("bedrock", "nova-pro", "us-east-1"), request)
    sdk, ours = sent[0], fake.last
    assert httpx.URL(sdk.url).raw_path == ours.url.raw_path  # the model id percent-encoded alike
    assert orjson.loads(sdk.body) == orjson.loads(ours.content)
    sdk_scope = sdk.headers["Authorization"].decode().split("Credential=")[1].split(",")[0]
    our_scope = ours.headers["authorization"].split("Credential=")[1].split(",")[0]
    assert sdk_scope.split("/")[2:] == our_scope.split("/")[2:]  # region/bedrock/aws4_request
