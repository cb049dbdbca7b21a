"""The fallback loop asks the breaker just before each call: one half-open probe at a time."""

from __future__ import annotations

import random

from app.config.catalog import Catalog
from app.config.enums import CircuitState
from app.execution.fallback import execute_chain
from app.execution.invokers import AdapterInvoker
from app.health.tracker import HealthTracker
from app.providers.messages import chat_request
from app.providers.pool import ProviderPool
from app.records import AttemptRecord, Outcome
from tests.execution.conftest import FakeProviders, decision_for
from tests.execution.test_fallback import CHAIN


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _failure(provider: str) -> AttemptRecord:
    return AttemptRecord(id=f"a-{random.random()}", decision_id="d", attempt_order=0,
                         provider=provider, model="m", outcome=Outcome.ERROR, task_type="chat",
                         error_class="server_error", status_code=500)


async def test_a_half_open_provider_takes_one_probe_and_others_skip_it(
    catalog: Catalog, pool: ProviderPool, providers: FakeProviders
) -> None:
    clock = Clock()
    tracker = HealthTracker(catalog, clock=clock, rng=random.Random(1))
    for _ in range(3):
        tracker.observe(_failure("deepseek"))
    assert tracker.snapshot()["deepseek"].state is CircuitState.OPEN
    clock.now += catalog.health.cooldown_max_s + 1  # past any jittered cooldown: half-open

    decision = decision_for(catalog, CHAIN)
    invoker = AdapterInvoker(pool, chat_request((), prompt="hi"))

    async def admit(provider: str) -> bool:
        return await tracker.admit(provider, panic=decision.panic)

    # The first request takes deepseek's probe slot and stays in flight (we hold the slot).
    assert await tracker.admit("deepseek") is True
    # A second request meanwhile: deepseek is skipped without a call, mistral answers.
    outcome = await execute_chain(decision, invoker, retries=catalog.retries, admit=admit)
    assert [(a.provider, a.outcome, a.error_class) for a in outcome.attempts] == [
        ("deepseek", Outcome.SKIPPED, "circuit_open"),
        ("mistral", Outcome.SUCCESS, None),
    ]
    assert providers.calls == ["mistral"]

    # Without a probe in flight the half-open provider is admitted and called once more.
    tracker.observe(_failure("deepseek"))
    clock.now += catalog.health.cooldown_max_s * 3
    providers.calls.clear()
    outcome = await execute_chain(decision, invoker, retries=catalog.retries, admit=admit)
    assert outcome.attempts[0].provider == "deepseek" and outcome.attempts[0].outcome is Outcome.SUCCESS
    assert providers.calls == ["deepseek"]
