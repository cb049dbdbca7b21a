"""The note's library call: `router.execute_with_fallback(decision, execution_func=..., prompt=...)`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from app.config.catalog import Catalog
from app.errors import AllProvidersFailed
from app.execution import execute_with_fallback
from app.routing import BudgetTier, SmartLLMRouter, TaskType
from tests.execution.conftest import decision_for

CHAIN = [("deepseek", "deepseek-chat"), ("mistral", "mistral-small-latest"), ("gemini", "gemini-2.5-flash")]


async def test_note_signature_with_execution_func(catalog: Catalog) -> None:
    calls: list[tuple[str, str]] = []

    async def my_llm_call(provider: str, prompt: str) -> str:
        calls.append((provider, prompt))
        if provider == "deepseek":
            raise ConnectionError("down")
        return f"{provider} says hi"

    router = SmartLLMRouter(catalog=catalog, check_keys=False)
    decision = decision_for(catalog, CHAIN)
    result = await router.execute_with_fallback(
        decision, execution_func=my_llm_call, prompt="Your prompt here"
    )
    assert calls == [("deepseek", "Your prompt here"), ("mistral", "Your prompt here")]
    assert (result.provider, result.content, result.result) == (
        "mistral",
        "mistral says hi",
        "mistral says hi",
    )
    assert [(a.provider, a.outcome.value) for a in result.attempts] == [
        ("deepseek", "error"),
        ("mistral", "success"),
    ]
    assert result.cost_estimated and result.cost_usd > 0  # no usage from the function: counted, flagged


async def test_execution_func_gets_the_model_and_its_usage_is_costed(catalog: Catalog) -> None:
    seen: list[dict[str, Any]] = []

    def sync_call(provider: str, **kwargs: Any) -> dict[str, Any]:
        seen.append({"provider": provider, **kwargs})
        return {"content": "ok", "usage": {"prompt_tokens": 1000, "completion_tokens": 200}}

    result = await execute_with_fallback(
        decision_for(catalog, CHAIN), sync_call, catalog=catalog, prompt="p", max_tokens=5
    )
    assert seen == [{"provider": "deepseek", "prompt": "p", "max_tokens": 5, "model": "deepseek-chat"}]
    model = next(m for m in catalog.providers["deepseek"].models if m.name == "deepseek-chat")
    assert result.cost_usd == (1000 * model.input_price + 200 * model.output_price) / Decimal(1_000_000)
    assert not result.cost_estimated


async def test_every_failure_raises_all_providers_failed(catalog: Catalog) -> None:
    async def broken(provider: str, **_: Any) -> str:
        raise RuntimeError(f"{provider} broke")

    with pytest.raises(AllProvidersFailed) as err:
        await execute_with_fallback(decision_for(catalog, CHAIN), broken, catalog=catalog, prompt="p")
    assert [a["message"] for a in err.value.details["attempts"]] == [
        "RuntimeError: deepseek broke",
        "RuntimeError: mistral broke",
        "RuntimeError: gemini broke",
    ]


async def test_route_then_execute_as_the_note_shows(catalog: Catalog) -> None:
    router = SmartLLMRouter(catalog=catalog, check_keys=False)
    decision = await router.route_request(task_type=TaskType.CHAT, budget=BudgetTier.LOW, context_size=2000)

    async def my_llm_call(provider: str, prompt: str) -> str:
        return "done"

    result = await router.execute_with_fallback(
        decision, execution_func=my_llm_call, prompt="Your prompt here"
    )
    assert result.provider == decision.primary_provider
    payload = result.to_dict()
    assert set(payload) == {
        "decision_id",
        "provider",
        "model",
        "content",
        "attempts",
        "usage",
        "cost_usd",
        "baseline_cost_usd",
        "cost_estimated",
        "quality_score",
        "latency_ms",
    }
