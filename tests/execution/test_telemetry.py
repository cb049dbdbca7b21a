"""Executed requests show up in the Prometheus metrics with bounded labels."""

from __future__ import annotations

from prometheus_client import REGISTRY

from app.config.catalog import Catalog
from app.execution.fallback import execute_chain
from app.execution.invokers import AdapterInvoker
from app.execution.result import ExecutionResult, finish
from app.execution.telemetry import count_attempt, count_request
from app.providers.messages import chat_request
from app.providers.pool import ProviderPool
from tests.execution.conftest import FakeProviders, decision_for

CHAIN = [("deepseek", "deepseek-chat"), ("mistral", "mistral-small-latest")]


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_attempts_fallbacks_tokens_cost_and_quality_are_counted(
    catalog: Catalog, pool: ProviderPool, providers: FakeProviders
) -> None:
    providers.status("deepseek", 500)
    labels = {"provider": "mistral", "model": "mistral-small-latest", "task": "chat"}
    before = {
        "fail": value(
            "llm_router_attempts_total",
            provider="deepseek",
            model="deepseek-chat",
            task="chat",
            outcome="error",
        ),
        "ok": value("llm_router_attempts_total", **labels, outcome="success"),
        "fallback": value("llm_router_fallbacks_total", provider="deepseek", task="chat"),
        "tokens": value(
            "llm_router_tokens_total", provider="mistral", model="mistral-small-latest", direction="output"
        ),
        "cost": value("llm_router_cost_usd_total", **labels),
        "quality": value("llm_router_quality_score_count", provider="mistral"),
    }
    request = chat_request(prompt="hi")
    decision = decision_for(catalog, CHAIN)
    outcome = await execute_chain(
        decision,
        AdapterInvoker(pool, request),
        retries=catalog.retries,
        observe=lambda a, _: count_attempt(a),
    )
    result = finish(outcome, request, chars_per_token=4.0)
    assert isinstance(result, ExecutionResult)
    count_request(decision, outcome.attempts, result, "success", outcome.latency_ms)
    assert (
        value(
            "llm_router_attempts_total",
            provider="deepseek",
            model="deepseek-chat",
            task="chat",
            outcome="error",
        )
        == before["fail"] + 1
    )
    assert value("llm_router_attempts_total", **labels, outcome="success") == before["ok"] + 1
    assert value("llm_router_fallbacks_total", provider="deepseek", task="chat") == before["fallback"] + 1
    assert (
        value("llm_router_tokens_total", provider="mistral", model="mistral-small-latest", direction="output")
        == before["tokens"] + result.usage.output_tokens
    )
    assert abs(value("llm_router_cost_usd_total", **labels) - before["cost"] - float(result.cost_usd)) < 1e-12
    assert value("llm_router_quality_score_count", provider="mistral") == before["quality"] + 1
