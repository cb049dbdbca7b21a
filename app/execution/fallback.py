"""The fallback loop: walk the decision's chain, one attempt record per provider tried.

Failure classes, deadlines and per-try timeouts follow RELIABILITY.md: fall back at once on
connection errors, timeouts, 5xx/529, bad bodies, 429 and 401/403; stop and hand back a 4xx the
request caused; at most `retries.max_attempts` calls inside one deadline.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import httpx
from uuid_utils import uuid7

from app.config.catalog import RetrySettings
from app.providers.base import Completion
from app.providers.errors import ErrorClass, ProviderError, classify_status, classify_transport
from app.records import AttemptRecord, Outcome
from app.routing.schemas import RoutingDecision, Scored

RATE_LIMIT_DEFAULT_S = 5.0
RATE_LIMIT_MIN_S, RATE_LIMIT_MAX_S = 1.0, 60.0

AttemptObserver = Callable[[AttemptRecord, float | None], None]
Admitter = Callable[[str], Awaitable[bool]]


class Invoker(Protocol):
    """How one chain entry is called: our adapters, or the library caller's own function."""

    def unavailable(self, provider: str) -> ProviderError | None: ...

    def timeout_s(self, provider: str) -> float: ...

    def __call__(self, scored: Scored) -> Awaitable[Completion]: ...


@dataclass(slots=True)
class ChainOutcome:
    """What the loop did: every attempt, and the winner, or the error that stopped it."""

    decision: RoutingDecision
    attempts: list[AttemptRecord] = field(default_factory=list)
    errors: list[ProviderError | None] = field(default_factory=list)
    winner: Scored | None = None
    completion: Completion | None = None
    winning_attempt: AttemptRecord | None = None
    rejected: ProviderError | None = None
    started: float = 0.0
    latency_ms: float = 0.0


def cooldown_s(error: ProviderError) -> float:
    """How long this request leaves a provider alone after a 429: Retry-After clamped, else 5 s."""
    if error.retry_after_s is None:
        return RATE_LIMIT_DEFAULT_S
    return min(max(error.retry_after_s, RATE_LIMIT_MIN_S), RATE_LIMIT_MAX_S)


def backoff_s(retries: RetrySettings) -> float:
    """Full jitter between the configured bounds, only before calling the same provider again."""
    return random.uniform(retries.backoff_min_ms, retries.backoff_max_ms) / 1000


async def execute_chain(
    decision: RoutingDecision,
    invoke: Invoker,
    *,
    retries: RetrySettings,
    deadline_s: float | None = None,
    observe: AttemptObserver | None = None,
    admit: Admitter | None = None,
) -> ChainOutcome:
    """Try the chain in order until one provider answers, one refuses the request, or we run out.

    `admit` is the circuit breaker's last word just before a call: a half-open provider takes
    one probe at a time across replicas, so a refused provider is skipped (`circuit_open`).
    """
    clock = time.monotonic
    outcome = ChainOutcome(decision=decision, started=clock())
    deadline = outcome.started + (deadline_s or retries.deadline_s)
    blocked_until: dict[str, float] = {}
    called: set[str] = set()
    calls = 0
    for position, scored in enumerate(decision.chain):
        provider = scored.candidate.provider
        skip = invoke.unavailable(provider)
        if skip is None and blocked_until.get(provider, 0.0) > clock():
            skip = ProviderError(ErrorClass.RATE_LIMITED if blocked_until[provider] < math.inf
                                 else ErrorClass.AUTH, "not called again in this request")
        if skip is not None:
            _record(outcome, scored, position, Outcome.SKIPPED, skip, 0.0, observe=None)
            continue
        if calls >= retries.max_attempts or clock() >= deadline:
            break
        if admit is not None and not await admit(provider):
            _record(outcome, scored, position, Outcome.SKIPPED,
                    ProviderError(ErrorClass.CIRCUIT_OPEN, "circuit open or probe in flight"),
                    0.0, observe=None)
            continue
        if provider in called:
            await asyncio.sleep(min(backoff_s(retries), max(0.0, deadline - clock())))
        calls += 1
        called.add(provider)
        started = clock()
        budget = min(invoke.timeout_s(provider), deadline - started)
        try:
            async with asyncio.timeout(budget):
                completion = await invoke(scored)
        except ProviderError as exc:
            error = exc
        except TimeoutError:
            error = ProviderError(ErrorClass.TIMEOUT, f"no answer within {budget:.2f} s")
        except httpx.TransportError as exc:
            error = classify_transport(exc)
        except httpx.HTTPStatusError as exc:
            error = classify_status(exc.response.status_code, exc.response.headers, str(exc))
        except Exception as exc:
            error = ProviderError(ErrorClass.SERVER_ERROR, f"{type(exc).__name__}: {exc}")
        else:
            latency = (clock() - started) * 1000
            outcome.winner, outcome.completion = scored, completion
            outcome.winning_attempt = _record(outcome, scored, position, Outcome.SUCCESS, None, latency,
                                              observe=observe)
            break
        latency = (clock() - started) * 1000
        _record(outcome, scored, position, error.outcome, error, latency, observe=observe)
        if not error.falls_back:
            outcome.rejected = error
            break
        if error.error_class is ErrorClass.RATE_LIMITED:
            blocked_until[provider] = clock() + cooldown_s(error)
        elif error.error_class is ErrorClass.AUTH:
            blocked_until[provider] = math.inf
    outcome.latency_ms = (clock() - outcome.started) * 1000
    return outcome


def _record(
    outcome: ChainOutcome,
    scored: Scored,
    position: int,
    result: Outcome,
    error: ProviderError | None,
    latency_ms: float,
    *,
    observe: AttemptObserver | None,
) -> AttemptRecord:
    cand = scored.candidate
    decision = outcome.decision
    attempt = AttemptRecord(
        id=str(uuid7()),
        decision_id=decision.decision_id,
        attempt_order=len(outcome.attempts),
        provider=cand.provider,
        model=cand.model,
        outcome=result,
        task_type=decision.task_type.value,
        latency_ms=round(latency_ms, 3),
        error_class=error.error_class.value if error else None,
        status_code=error.status_code if error else None,
        is_fallback=position > 0,
        tenant=decision.tenant,
        region=cand.region.value,
    )
    outcome.attempts.append(attempt)
    outcome.errors.append(error)
    if observe is not None:
        observe(attempt, error.retry_after_s if error else None)
    return attempt
