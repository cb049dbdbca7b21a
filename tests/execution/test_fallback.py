"""The fallback loop through our adapters, providers faked at the HTTP boundary (RELIABILITY.md)."""

from __future__ import annotations

import time
from decimal import Decimal

import httpx
import pytest

from app.config.catalog import Catalog
from app.errors import AllProvidersFailed, ProviderRejectedRequest
from app.execution.library import execute_with_fallback
from app.providers.pool import ProviderPool
from app.records import Outcome
from tests.execution.conftest import FakeProviders, decision_for, openai_body
from tests.providers.conftest import KEYS

CHAIN = [
    ("deepseek", "deepseek-chat"),
    ("mistral", "mistral-small-latest"),
    ("openrouter", "meta-llama/llama-3.3-70b-instruct"),
    ("huggingface", "meta-llama/Llama-3.1-8B-Instruct"),
]


def outcomes(result_attempts: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(a["provider"], a["outcome"], a["error_class"], a["status_code"]) for a in result_attempts]


async def test_primary_500_falls_back_and_both_attempts_are_recorded(
    catalog: Catalog, pool: ProviderPool, providers: FakeProviders
) -> None:
    providers.status("deepseek", 500)
    decision = decision_for(catalog, CHAIN)
    result = await execute_with_fallback(decision, pool=pool, prompt="Capital of France?")
    assert result.provider == "mistral" and result.content == "Paris is the capital of France."
    assert [(a.provider, a.outcome, a.error_class, a.status_code) for a in result.attempts] == [
        ("deepseek", Outcome.ERROR, "server_error", 500),
        ("mistral", Outcome.SUCCESS, None, None),
    ]
    assert result.attempts[1].is_fallback and not result.attempts[0].is_fallback
    assert providers.calls == ["deepseek", "mistral"]


async def test_cost_is_tokens_times_the_catalogs_prices_exactly(
    catalog: Catalog, pool: ProviderPool, providers: FakeProviders
) -> None:
    providers.set("deepseek", lambda r: httpx.Response(200, content=openai_body(usage=(1234, 567))))
    result = await execute_with_fallback(decision_for(catalog, CHAIN), pool=pool, prompt="hi")
    model = next(m for m in catalog.providers["deepseek"].models if m.name == "deepseek-chat")
    expected = (1234 * model.input_price + 567 * model.output_price) / Decimal(1_000_000)
    assert result.cost_usd == expected and isinstance(result.cost_usd, Decimal)
    base = catalog.baseline
    assert result.baseline_cost_usd == (1234 * base.input_price + 567 * base.output_price) / Decimal(
        1_000_000
    )
    assert not result.cost_estimated
    won = result.attempts[-1]
    assert (won.input_tokens, won.output_tokens, won.cost_usd) == (1234, 567, expected)


async def test_missing_usage_is_counted_and_flagged_never_zero(
    catalog: Catalog, pool: ProviderPool, providers: FakeProviders
) -> None:
    providers.set("deepseek", lambda r: httpx.Response(200, content=openai_body("x" * 400, usage=None)))
    result = await execute_with_fallback(decision_for(catalog, CHAIN), pool=pool, prompt="y" * 80)
    assert result.cost_estimated and result.cost_usd > 0
    assert (result.usage.input_tokens, result.usage.output_tokens) == (20, 100)


async def test_429_falls_back_at_once_and_is_not_retried_before_retry_after(
    catalog: Catalog, pool: ProviderPool, providers: FakeProviders
) -> None:
    providers.status("deepseek", 429, headers={"retry-after": "30"})
    chain = [
        ("deepseek", "deepseek-chat"),
        ("mistral", "mistral-small-latest"),
        ("deepseek", "deepseek-reasoner"),
    ]
    providers.status("mistral", 503)
    started = time.monotonic()
    with pytest.raises(AllProvidersFailed) as err:
        await execute_with_fallback(decision_for(catalog, chain), pool=pool, prompt="hi")
    assert time.monotonic() - started < 1.0  # no sleeping on a Retry-After: the next provider is tried now
    assert providers.calls == ["deepseek", "mistral"]
    assert outcomes(err.value.details["attempts"]) == [
        ("deepseek", "rate_limited", "rate_limited", 429),
        ("mistral", "error", "server_error", 503),
        ("deepseek", "skipped", "rate_limited", None),
    ]


async def test_bad_key_falls_back_and_the_provider_is_not_called_again(
    catalog: Catalog, pool: ProviderPool, providers: FakeProviders
) -> None:
    providers.status("deepseek", 401, {"error": {"message": f"Incorrect API key {KEYS['DEEPSEEK_API_KEY']}"}})
    chain = [
        ("deepseek", "deepseek-chat"),
        ("deepseek", "deepseek-reasoner"),
        ("mistral", "mistral-small-latest"),
    ]
    result = await execute_with_fallback(decision_for(catalog, chain), pool=pool, prompt="hi")
    assert result.provider == "mistral"
    assert [(a.provider, a.outcome.value, a.error_class) for a in result.attempts] == [
        ("deepseek", "error", "auth"),
        ("deepseek", "skipped", "auth"),
        ("mistral", "success", None),
    ]


async def test_a_400_the_request_caused_is_returned_without_fallback(
    catalog: Catalog, pool: ProviderPool, providers: FakeProviders
) -> None:
    providers.status(
        "deepseek",
        400,
        {
            "error": {
                "message": "This model's maximum context length is 65536 tokens",
                "type": "invalid_request_error",
                "code": "context_length_exceeded",
            }
        },
    )
    with pytest.raises(ProviderRejectedRequest) as err:
        await execute_with_fallback(decision_for(catalog, CHAIN), pool=pool, prompt="hi")
    assert err.value.status_code == 400
    assert "maximum context length" in err.value.message
    assert err.value.details["provider_code"] == "context_length_exceeded"
    assert providers.calls == ["deepseek"]


async def test_all_failing_gives_502_with_every_attempt_and_at_most_max_attempts_calls(
    catalog: Catalog, pool: ProviderPool, providers: FakeProviders
) -> None:
    for provider, status in [("deepseek", 500), ("mistral", 502), ("openrouter", 529), ("huggingface", 500)]:
        providers.status(provider, status)
    with pytest.raises(AllProvidersFailed) as err:
        await execute_with_fallback(decision_for(catalog, CHAIN), pool=pool, prompt="hi")
    assert err.value.status_code == 502
    assert catalog.retries.max_attempts == 3
    assert providers.calls == ["deepseek", "mistral", "openrouter"]
    attempts = err.value.details["attempts"]
    assert outcomes(attempts) == [
        ("deepseek", "error", "server_error", 500),
        ("mistral", "error", "server_error", 502),
        ("openrouter", "error", "server_error", 529),
    ]
    assert all(a["message"] for a in attempts)


async def test_connection_refused_falls_back(
    catalog: Catalog, pool: ProviderPool, providers: FakeProviders
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    providers.set("deepseek", refuse)
    result = await execute_with_fallback(decision_for(catalog, CHAIN), pool=pool, prompt="hi")
    assert [(a.provider, a.error_class) for a in result.attempts] == [
        ("deepseek", "connection"),
        ("mistral", None),
    ]


async def test_hang_times_out_per_try_then_falls_back(catalog: Catalog, providers: FakeProviders) -> None:
    deepseek = catalog.providers["deepseek"]
    quick = deepseek.model_copy(update={"timeouts": deepseek.timeouts.model_copy(update={"read_s": 0.3})})
    fast = catalog.model_copy(update={"providers": {**catalog.providers, "deepseek": quick}})
    pool = await ProviderPool.open(fast, environ=KEYS, transport=httpx.MockTransport(providers.handler))
    providers.set("deepseek", "hang")
    try:
        started = time.monotonic()
        result = await execute_with_fallback(decision_for(fast, CHAIN), pool=pool, prompt="hi")
        elapsed = time.monotonic() - started
    finally:
        await pool.aclose()
    assert result.provider == "mistral"
    assert (result.attempts[0].outcome, result.attempts[0].error_class) == (Outcome.TIMEOUT, "timeout")
    assert 0.3 <= elapsed < 2.0 and 280 <= result.attempts[0].latency_ms < 1500


async def test_the_deadline_bounds_every_attempt(
    catalog: Catalog, pool: ProviderPool, providers: FakeProviders
) -> None:
    providers.set("deepseek", "hang")
    started = time.monotonic()
    with pytest.raises(AllProvidersFailed) as err:
        await execute_with_fallback(decision_for(catalog, CHAIN), pool=pool, prompt="hi", deadline_s=0.4)
    assert time.monotonic() - started < 1.5
    assert outcomes(err.value.details["attempts"]) == [("deepseek", "timeout", "timeout", None)]


async def test_providers_without_a_key_are_skipped_with_no_key(
    catalog: Catalog, providers: FakeProviders
) -> None:
    env = {k: v for k, v in KEYS.items() if k != "DEEPSEEK_API_KEY"}
    pool = await ProviderPool.open(catalog, environ=env, transport=httpx.MockTransport(providers.handler))
    try:
        result = await execute_with_fallback(decision_for(catalog, CHAIN), pool=pool, prompt="hi")
    finally:
        await pool.aclose()
    assert [(a.provider, a.outcome.value, a.error_class) for a in result.attempts] == [
        ("deepseek", "skipped", "no_key"),
        ("mistral", "success", None),
    ]
    assert providers.calls == ["mistral"]
