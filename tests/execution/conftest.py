"""Providers faked at the HTTP boundary per host, and decisions from the real router."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import httpx
import orjson
import pytest

from app.config.catalog import Catalog
from app.providers.pool import ProviderPool
from app.routing.router import SmartLLMRouter
from app.routing.schemas import RouteRequest, RoutingDecision, Scored
from tests.providers.conftest import KEYS

HOSTS = {
    "api.openai.com": "openai",
    "api.deepseek.com": "deepseek",
    "api.mistral.ai": "mistral",
    "generativelanguage.googleapis.com": "gemini",
    "api.anthropic.com": "anthropic",
    "api.cohere.com": "cohere",
    "openrouter.ai": "openrouter",
    "api.perplexity.ai": "perplexity",
    "router.huggingface.co": "huggingface",
}


def openai_body(
    text: str = "Paris is the capital of France.", usage: tuple[int, int] | None = (20, 8)
) -> bytes:
    body: dict[str, Any] = {
        "id": "x",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    }
    if usage:
        body["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)}
    return orjson.dumps(body)


Behaviour = Callable[[httpx.Request], httpx.Response] | str


class FakeProviders:
    """Each provider answers 200 unless told to fail; every request is counted by provider."""

    def __init__(self) -> None:
        self.behaviour: dict[str, Behaviour] = {}
        self.calls: list[str] = []

    def set(self, provider: str, behaviour: Behaviour) -> None:
        self.behaviour[provider] = behaviour

    def status(
        self, provider: str, status: int, body: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        content = orjson.dumps(body if body is not None else {"error": {"message": f"HTTP {status}"}})
        self.set(provider, lambda r: httpx.Response(status, content=content, headers=headers or {}))

    async def handler(self, request: httpx.Request) -> httpx.Response:
        provider = HOSTS[request.url.host]
        self.calls.append(provider)
        behaviour = self.behaviour.get(provider)
        if behaviour == "hang":
            await asyncio.sleep(3600)
        if callable(behaviour):
            return behaviour(request)
        return httpx.Response(200, content=openai_body(), headers={"content-type": "application/json"})


@pytest.fixture
def providers() -> FakeProviders:
    return FakeProviders()


@pytest.fixture
async def pool(catalog: Catalog, providers: FakeProviders) -> AsyncIterator[ProviderPool]:
    opened = await ProviderPool.open(catalog, environ=KEYS, transport=httpx.MockTransport(providers.handler))
    yield opened
    await opened.aclose()


def decision_for(
    catalog: Catalog, chain: list[tuple[str, str]] | None = None, **request: Any
) -> RoutingDecision:
    """A real decision (chat/low by default); `chain` reorders it to given (provider, model) entries."""
    router = SmartLLMRouter(catalog=catalog)
    decision = router.decide(
        RouteRequest(**{"task_type": "chat", "budget": "low", "context_size": 100, **request}), keyed=None
    )
    if chain is None:
        return decision
    index = router.index
    entries: list[Scored] = []
    for provider, model in chain:
        cand = next(c for c in index.candidates if c.provider == provider and c.model == model)
        entries.append(Scored(cand, 1.0, 1.0, 1.0, 1.0, 0.0, ()))
    return replace(decision, chain=tuple(entries))
