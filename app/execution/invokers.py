"""The two ways a chain entry is called: through our provider adapters, or through the library
caller's own `execution_func` (the design note's signature)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from app.config.catalog import Catalog
from app.providers.base import ChatRequest, Completion, bounded_usage
from app.providers.errors import ProviderError
from app.providers.pool import ProviderPool
from app.routing.schemas import Scored


class AdapterInvoker:
    """Calls the provider's adapter with the request, at the model's deployment."""

    def __init__(self, pool: ProviderPool, request: ChatRequest) -> None:
        self.pool = pool
        self.request = request

    def unavailable(self, provider: str) -> ProviderError | None:
        return self.pool.unavailable(provider)

    def timeout_s(self, provider: str) -> float:
        return self.pool.catalog.providers[provider].timeouts.read_s

    async def __call__(self, scored: Scored) -> Completion:
        cand = scored.candidate
        target = self.pool.target(cand.provider, cand.model, cand.deployment)
        return await self.pool.adapters[cand.provider].complete(target, self.request)


class FunctionInvoker:
    """Calls `execution_func(provider, **kwargs)` (plus `model=` when it takes one), as the note shows."""

    def __init__(self, func: Callable[..., Any], kwargs: Mapping[str, Any], catalog: Catalog | None) -> None:
        self.func = func
        self.kwargs = dict(kwargs)
        self.catalog = catalog
        self.results: dict[int, Any] = {}
        params = inspect.signature(func).parameters.values()
        self.takes_model = any(p.name == "model" or p.kind is p.VAR_KEYWORD for p in params)

    def unavailable(self, provider: str) -> ProviderError | None:
        return None  # the caller's function holds its own keys

    def timeout_s(self, provider: str) -> float:
        spec = self.catalog.providers.get(provider) if self.catalog else None
        return spec.timeouts.read_s if spec else 60.0

    async def __call__(self, scored: Scored) -> Completion:
        kwargs = {**self.kwargs, "model": scored.candidate.model} if self.takes_model else self.kwargs
        value = self.func(scored.candidate.provider, **kwargs)
        if inspect.isawaitable(value):
            value = await value
        self.results[id(scored)] = value
        return as_completion(value)


def as_completion(value: Any) -> Completion:
    """A Completion from what a caller's function returned: a Completion, text, or a dict."""
    if isinstance(value, Completion):
        return value
    if isinstance(value, str):
        return Completion(content=value, usage=None)
    if isinstance(value, Mapping):
        usage = value.get("usage")
        parsed = None
        if isinstance(usage, Mapping):
            parsed = bounded_usage(usage.get("input_tokens", usage.get("prompt_tokens")),
                                   usage.get("output_tokens", usage.get("completion_tokens")))
        content = value.get("content", value.get("text", ""))
        return Completion(content=str(content or ""), usage=parsed)
    return Completion(content="" if value is None else str(value), usage=None)
