"""`execute_with_fallback`: the design note's library call, over the same loop the service uses."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from app.config.catalog import Catalog
from app.config.loader import load_catalog
from app.execution.fallback import execute_chain
from app.execution.invokers import AdapterInvoker, FunctionInvoker
from app.execution.result import ExecutionResult, finish
from app.providers.messages import chat_request
from app.providers.pool import ProviderPool
from app.routing.schemas import RoutingDecision


async def execute_with_fallback(
    routing_decision: RoutingDecision,
    execution_func: Callable[..., Any] | None = None,
    *,
    catalog: Catalog | None = None,
    pool: ProviderPool | None = None,
    deadline_s: float | None = None,
    **kwargs: Any,
) -> ExecutionResult:
    """Call the decision's chain in order until one answers; raise the client's error otherwise.

    With `execution_func`, each chain entry is `await execution_func(provider, **kwargs)` (with
    `model=` too when the function takes it), as the note shows; its return value is kept as
    `result.result`. Without it our adapters make the call from `prompt` or `messages`,
    `max_tokens` and `temperature`, over `pool` or a pool opened for this call.
    Raises ProviderRejectedRequest (a 4xx the request caused) or AllProvidersFailed.
    """
    catalog = catalog or (pool.catalog if pool else load_catalog())
    chars = catalog.defaults.chars_per_token
    if execution_func is not None:
        invoker = FunctionInvoker(execution_func, kwargs, catalog)
        outcome = await execute_chain(routing_decision, invoker, retries=catalog.retries,
                                      deadline_s=deadline_s)
        result = invoker.results.get(id(outcome.winner)) if outcome.winner is not None else None
        done = finish(outcome, _request_or_none(kwargs), chars_per_token=chars, result=result)
    else:
        request = chat_request(
            _messages(kwargs.get("messages")), prompt=kwargs.get("prompt"),
            max_tokens=kwargs.get("max_tokens"), temperature=kwargs.get("temperature"),
        )
        owned = pool is None
        active = pool or await ProviderPool.open(catalog)
        try:
            outcome = await execute_chain(routing_decision, AdapterInvoker(active, request),
                                          retries=catalog.retries, deadline_s=deadline_s)
        finally:
            if owned:
                await active.aclose()
        done = finish(outcome, request, chars_per_token=chars)
    if isinstance(done, ExecutionResult):
        return done
    raise done


def _messages(value: Any) -> Iterable[Mapping[str, Any]] | None:
    if value is None:
        return None
    return [m if isinstance(m, Mapping) else m.model_dump() for m in value]


def _request_or_none(kwargs: Mapping[str, Any]) -> Any:
    """The caller's prompt, if it passed one we understand, for counting tokens when usage is absent."""
    try:
        return chat_request(_messages(kwargs.get("messages")), prompt=kwargs.get("prompt"))
    except Exception:
        return None
