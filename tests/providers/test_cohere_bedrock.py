"""Cohere chat v2 and Bedrock Converse (SigV4 by botocore, eventstream decoded by botocore)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from app.config.catalog import Catalog
from app.providers.errors import ErrorClass, ProviderError
from app.providers.messages import chat_request
from app.providers.pool import ProviderPool
from tests.providers.conftest import KEYS, FakeProvider, sse
from tests.providers.eventstream_frames import event, exception

COHERE_RESPONSE = {
    "id": "c14c80c3-18eb-4519-9460-6c92edd8cfb4",
    "finish_reason": "COMPLETE",
    "message": {
        "role": "assistant",
        "content": [{"type": "text", "text": "LLMs stand for Large Language Models."}],
    },
    "usage": {
        "billed_units": {"input_tokens": 5, "output_tokens": 418},
        "tokens": {"input_tokens": 71, "output_tokens": 418},
    },
}
BEDROCK_RESPONSE = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Hello! How can I help?"}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 30, "outputTokens": 628, "totalTokens": 658},
    "metrics": {"latencyMs": 1275},
}


async def test_cohere_request_and_billed_usage(pool: ProviderPool, fake: FakeProvider) -> None:
    fake.reply(body=COHERE_RESPONSE)
    request = chat_request(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "LLM?"}], max_tokens=20
    )
    completion = await pool.adapters["cohere"].complete(
        pool.target("cohere", "command-a-03-2025", "default"), request
    )
    assert str(fake.last.url) == "https://api.cohere.com/v2/chat"
    assert fake.last.headers["authorization"] == "Bearer co-key"
    assert fake.last_json() == {
        "model": "command-a-03-2025",
        "stream": False,
        "max_tokens": 20,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "LLM?"}],
    }
    assert (
        completion.content == "LLMs stand for Large Language Models." and completion.finish_reason == "stop"
    )
    assert completion.usage is not None
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (5, 418)  # billed units


async def test_cohere_stream(pool: ProviderPool, fake: FakeProvider) -> None:
    def ev(name: str, data: dict[str, object]) -> tuple[str, str]:
        return name, orjson.dumps({"type": name, **data}).decode()

    fake.reply(
        raw=sse(
            ev("message-start", {"id": "x", "delta": {"message": {"role": "assistant"}}}),
            ev(
                "content-start", {"index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}}
            ),
            ev("content-delta", {"index": 0, "delta": {"message": {"content": {"text": "Hi"}}}}),
            ev("content-delta", {"index": 0, "delta": {"message": {"content": {"text": " there"}}}}),
            ev("content-end", {"index": 0}),
            ev(
                "message-end",
                {
                    "delta": {
                        "finish_reason": "MAX_TOKENS",
                        "usage": {
                            "billed_units": {"input_tokens": 3, "output_tokens": 2},
                            "tokens": {"input_tokens": 9, "output_tokens": 2},
                        },
                    }
                },
            ),
        ),
        content_type="text/event-stream",
    )
    target = pool.target("cohere", "command-r-08-2024", "default")
    chunks = [c async for c in pool.adapters["cohere"].stream(target, chat_request(prompt="hi"))]
    assert "".join(c.text for c in chunks) == "Hi there"
    assert chunks[-1].finish_reason == "length" and chunks[-1].usage is not None
    assert chunks[-1].usage.input_tokens == 3
    assert fake.last_json()["stream"] is True


async def test_bedrock_converse_is_sigv4_signed(pool: ProviderPool, fake: FakeProvider) -> None:
    fake.reply(body=BEDROCK_RESPONSE)
    request = chat_request(
        [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hello"}],
        max_tokens=100,
        temperature=0.3,
    )
    target = pool.target("bedrock", "claude-sonnet-4-5", "eu-central-1")
    completion = await pool.adapters["bedrock"].complete(target, request)
    sent = fake.last
    assert str(sent.url) == (
        "https://bedrock-runtime.eu-central-1.amazonaws.com/model/"
        "anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"
    )
    auth = sent.headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-central-1/bedrock/aws4_request" in auth and "SignedHeaders=" in auth
    assert sent.headers["x-amz-date"]
    assert fake.last_json() == {
        "messages": [{"role": "user", "content": [{"text": "Hello"}]}],
        "system": [{"text": "Be kind."}],
        "inferenceConfig": {"maxTokens": 100, "temperature": 0.3},
    }
    assert completion.content == "Hello! How can I help?" and completion.finish_reason == "stop"
    assert completion.usage is not None and (
        completion.usage.input_tokens,
        completion.usage.output_tokens,
    ) == (30, 628)


async def test_bedrock_signature_matches_botocore_for_the_same_request(
    pool: ProviderPool, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials

    fake.reply(body=BEDROCK_RESPONSE)
    target = pool.target("bedrock", "nova-pro", "us-east-1")
    await pool.adapters["bedrock"].complete(target, chat_request(prompt="hi"))
    sent = fake.last
    check = botocore.awsrequest.AWSRequest(
        method="POST", url=str(sent.url), data=sent.content, headers={"content-type": "application/json"}
    )
    # botocore signs at its own clock's second (add_auth overwrites any timestamp given), which
    # differed from ours whenever a second ticked between the two signatures: sign at ours.
    signed_at = dt.datetime.strptime(sent.headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *_args, **_kw: signed_at)
    creds = botocore.credentials.Credentials(KEYS["AWS_ACCESS_KEY_ID"], KEYS["AWS_SECRET_ACCESS_KEY"])
    botocore.auth.SigV4Auth(creds, "bedrock", "us-east-1").add_auth(check)
    assert sent.headers["authorization"] == check.headers["Authorization"]


async def test_bedrock_stream_is_decoded_from_eventstream_frames(
    pool: ProviderPool, fake: FakeProvider
) -> None:
    body = (
        event("messageStart", {"role": "assistant"})
        + event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hel"}})
        + event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "lo"}})
        + event("contentBlockStop", {"contentBlockIndex": 0})
        + event("messageStop", {"stopReason": "max_tokens"})
        + event(
            "metadata",
            {"usage": {"inputTokens": 4, "outputTokens": 2, "totalTokens": 6}, "metrics": {"latencyMs": 10}},
        )
    )

    async def pieces() -> AsyncIterator[bytes]:  # split mid-frame, as a network would
        for i in range(0, len(body), 7):
            yield body[i : i + 7]

    fake.replies.append(
        lambda r: httpx.Response(
            200, content=pieces(), headers={"content-type": "application/vnd.amazon.eventstream"}
        )
    )
    target = pool.target("bedrock", "claude-haiku-4-5", "us-east-1")
    chunks = [c async for c in pool.adapters["bedrock"].stream(target, chat_request(prompt="hi"))]
    assert str(fake.last.url).endswith("/model/anthropic.claude-haiku-4-5-20251001-v1%3A0/converse-stream")
    assert "".join(c.text for c in chunks) == "Hello"
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["length"]
    assert chunks[-1].usage is not None and chunks[-1].usage.output_tokens == 2


async def test_bedrock_stream_exception_is_classified(pool: ProviderPool, fake: FakeProvider) -> None:
    fake.reply(
        raw=event("messageStart", {"role": "assistant"}) + exception("throttlingException", "slow down"),
        content_type="application/vnd.amazon.eventstream",
    )
    target = pool.target("bedrock", "nova-pro", "us-east-1")
    with pytest.raises(ProviderError) as err:
        async for _ in pool.adapters["bedrock"].stream(target, chat_request(prompt="hi")):
            pass
    assert err.value.error_class is ErrorClass.RATE_LIMITED


async def test_bedrock_without_credentials_is_skipped_not_a_crash(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", f"{tmp_path}/none")
    monkeypatch.setenv("AWS_CONFIG_FILE", f"{tmp_path}/none")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    env = {k: v for k, v in KEYS.items() if not k.startswith("AWS_")}
    pool = await ProviderPool.open(
        catalog, environ=env, transport=httpx.MockTransport(lambda r: httpx.Response(500))
    )
    try:
        assert pool.skipped()["bedrock"].error_class is ErrorClass.NO_KEY
        assert "bedrock" not in pool.available()
    finally:
        await pool.aclose()
