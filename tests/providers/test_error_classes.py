"""Every adapter classifies the same failures the same way (RELIABILITY.md's failure table)."""

from __future__ import annotations

import pytest

from app.providers.errors import ErrorClass, ProviderError, parse_retry_after
from app.providers.messages import chat_request
from app.providers.pool import ProviderPool
from tests.providers.conftest import KEYS, FakeProvider

TARGETS = {
    "openai": ("gpt-4o", "default"),
    "azure_openai": ("gpt-4o", "eastus"),
    "anthropic": ("claude-haiku-4-5", "default"),
    "gemini": ("gemini-2.5-flash", "default"),
    "vertex_ai": ("gemini-2.5-flash", "us-central1"),
    "cohere": ("command-r-08-2024", "default"),
    "bedrock": ("nova-pro", "us-east-1"),
}
# Each provider's documented error envelope.
BODIES = {
    "openai": lambda m, c: {
        "error": {"message": m, "type": "invalid_request_error", "param": None, "code": c}
    },
    "azure_openai": lambda m, c: {"error": {"message": m, "type": None, "code": c}},
    "anthropic": lambda m, c: {
        "type": "error",
        "error": {"type": c or "invalid_request_error", "message": m},
    },
    "gemini": lambda m, c: {"error": {"code": 400, "message": m, "status": c or "INVALID_ARGUMENT"}},
    "vertex_ai": lambda m, c: {"error": {"code": 400, "message": m, "status": c or "INVALID_ARGUMENT"}},
    "cohere": lambda m, c: {"id": "e1", "message": m},
    "bedrock": lambda m, c: {"message": m},
}
CASES = [
    (500, None, ErrorClass.SERVER_ERROR),
    (503, None, ErrorClass.SERVER_ERROR),
    (529, "overloaded_error", ErrorClass.SERVER_ERROR),
    (429, None, ErrorClass.RATE_LIMITED),
    (401, None, ErrorClass.AUTH),
    (403, None, ErrorClass.AUTH),
    (400, None, ErrorClass.BAD_REQUEST),
    (413, None, ErrorClass.BAD_REQUEST),
    (422, None, ErrorClass.BAD_REQUEST),
    (408, None, ErrorClass.TIMEOUT),
]


@pytest.mark.parametrize("provider", sorted(TARGETS))
@pytest.mark.parametrize(("status", "code", "expected"), CASES)
async def test_status_classes(
    pool: ProviderPool, fake: FakeProvider, provider: str, status: int, code: str | None, expected: ErrorClass
) -> None:
    key = next(v for k, v in KEYS.items() if k == pool.adapters[provider].spec.api_key_env)
    fake.reply(status, BODIES[provider](f"reason {status} {key}", code), headers={"retry-after": "9"})
    model, deployment = TARGETS[provider]
    with pytest.raises(ProviderError) as err:
        await pool.adapters[provider].complete(
            pool.target(provider, model, deployment), chat_request(prompt="x")
        )
    assert err.value.error_class is expected
    assert err.value.status_code == status
    assert err.value.falls_back is (expected is not ErrorClass.BAD_REQUEST)
    if expected is ErrorClass.RATE_LIMITED:
        assert err.value.retry_after_s == 9
    if expected is ErrorClass.AUTH:
        assert key not in err.value.message  # a provider may echo our key: never pass it on
    if expected is ErrorClass.BAD_REQUEST:
        assert f"reason {status}" in err.value.message  # the provider's reason reaches the client


@pytest.mark.parametrize("provider", ["openai", "azure_openai", "anthropic", "gemini", "bedrock"])
async def test_404_for_our_configured_model_falls_back(
    pool: ProviderPool, fake: FakeProvider, provider: str
) -> None:
    code = {
        "openai": "model_not_found",
        "azure_openai": "DeploymentNotFound",
        "anthropic": "not_found_error",
        "gemini": "NOT_FOUND",
        "bedrock": None,
    }[provider]
    headers = (
        {"x-amzn-errortype": "ResourceNotFoundException:http://internal.amazon.com/"} if code is None else {}
    )
    fake.reply(404, BODIES[provider]("model does not exist", code), headers=headers)
    model, deployment = TARGETS[provider]
    with pytest.raises(ProviderError) as err:
        await pool.adapters[provider].complete(
            pool.target(provider, model, deployment), chat_request(prompt="x")
        )
    assert err.value.falls_back and err.value.error_class is ErrorClass.SERVER_ERROR


async def test_bedrock_throttling_type_wins_over_its_status(pool: ProviderPool, fake: FakeProvider) -> None:
    fake.reply(
        400, {"message": "Too many tokens"}, headers={"x-amzn-errortype": "ServiceQuotaExceededException"}
    )
    with pytest.raises(ProviderError) as err:
        await pool.adapters["bedrock"].complete(
            pool.target("bedrock", "nova-pro", "us-east-1"), chat_request(prompt="x")
        )
    assert err.value.error_class is ErrorClass.RATE_LIMITED


def test_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "12"}) == 12
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480) == 10
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
