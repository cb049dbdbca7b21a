"""The circuit breaker in the running service, against the provider simulator over HTTP.

Cooldowns are shortened through the catalog (2 s per ejection step) so the tests wait seconds,
not minutes; the rules are the same as in production. Only the providers a test names have
a key, so the chains are small and known.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.config.loader import load_catalog
from tests.health.stack import CHAT_LOW, Stack, execute, health, route

pytestmark = pytest.mark.slow

BASE_S = 2.0
FREE = {"task_type": "chat", "budget": "free", "prompt": "Say hello."}


def only_keys(*providers: str) -> dict[str, str]:
    """Environment that leaves every other provider without a key."""
    catalog = load_catalog()
    return {spec.api_key_env: ("" if name not in providers else f"sim-{name}-key")
            for name, spec in catalog.providers.items()}


def cooldown_left(url: str, provider: str) -> float:
    until = health(url)[provider]["cooldown_until"]
    assert until is not None, f"{provider} is not open"
    from datetime import datetime
    return datetime.fromisoformat(until).timestamp() - time.time()


def wait_for(check: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path, cooldown_base_s=BASE_S, cooldown_max_s=60)
    yield s
    s.close()


def test_failures_open_the_circuit_and_nothing_reaches_it_until_a_probe(tmp_path: Path) -> None:
    # Longer cooldowns than the other tests: the check below needs a window of over a second.
    stack = Stack(tmp_path, cooldown_base_s=2 * BASE_S, cooldown_max_s=60)
    try:
        url = stack.start("svc", **only_keys("deepseek", "openrouter"), ROUTER_HEALTH_PROBES="false")
        assert route(url)["primary_provider"] == "deepseek"
        stack.fault("deepseek", error_rate=1.0, status=500)
        # openrouter answers 429 (a short rate-limit pause, never an ejection): requests keep going
        # to deepseek, and openrouter's own circuit never opens, so panic mode stays out of play.
        stack.fault("openrouter", error_rate=1.0, status=429, retry_after=1)
        sent = 0
        while health(url)["deepseek"]["state"] != "open":
            sent += 1
            assert sent <= 10, "still closed after 10 requests"
            execute_any(url)
        assert stack.calls("deepseek") == 3, "opened exactly at the third consecutive failure"
        stack.fault("openrouter")  # healthy again: requests have somewhere to go
        wait_for(lambda: health(url)["openrouter"]["state"] == "closed", timeout=5)
        calls = stack.calls("deepseek")
        until = time.time() + cooldown_left(url, "deepseek")
        started = time.monotonic()
        trials = 0  # a request still running when the cooldown ends may be the half-open trial
        while time.time() < until - 0.3:
            answer = execute(url)
            assert answer["provider"] == "openrouter"
            to_deepseek = sum(a["provider"] == "deepseek" for a in answer["attempts"])
            if time.time() < until:
                assert to_deepseek == 0, "a request reached the open provider during its cooldown"
            trials += to_deepseek
        assert trials <= 1, "more than one half-open trial"
        assert stack.calls("deepseek") == calls + trials, "a request reached the open provider"
        assert time.monotonic() - started >= 1.0
    finally:
        stack.close()


def execute_any(url: str, body: dict[str, Any] | None = None) -> int:
    """POST /execute accepting a 502 (every provider of the chain failed)."""
    import httpx

    response = httpx.post(f"{url}/api/brain/ai-assistant/execute", json=body or CHAT_LOW, timeout=30)
    assert response.status_code in (200, 502), response.text
    return response.status_code


def test_a_probe_reopens_for_longer_then_closes(stack: Stack) -> None:
    url = stack.start("svc", **only_keys("deepseek", "openrouter"))
    stack.fault("deepseek", error_rate=1.0, status=500)
    stack.fault("openrouter", error_rate=1.0, status=503)
    while health(url)["deepseek"]["state"] != "open":
        execute_any(url)
    stack.fault("openrouter")
    first = cooldown_left(url, "deepseek")
    assert 0 < first <= BASE_S * 1.1
    ejections = health(url)["deepseek"]["ejections"]
    # the cooldown ends; the active probe (GET models) still fails: open again, for longer
    wait_for(lambda: health(url)["deepseek"]["ejections"] == ejections + 1)
    second = cooldown_left(url, "deepseek")
    assert BASE_S * 1.1 < second <= 2 * BASE_S * 1.1, "the second ejection waits longer"
    stack.fault("deepseek")
    wait_for(lambda: health(url)["deepseek"]["state"] == "closed", timeout=3 * BASE_S * 1.1 + 5)
    assert health(url)["deepseek"]["ejections"] == 0
    assert execute(url)["provider"] == "deepseek", "closed again: back to primary"


def test_retry_after_60_then_1_keeps_the_60_s_deadline(stack: Stack) -> None:
    url = stack.start("svc", **only_keys("huggingface"), ROUTER_HEALTH_PROBES="false")
    stack.fault("huggingface", error_rate=1.0, status=429, retry_after=60)
    assert execute_any(url, FREE) == 502
    assert 58 <= cooldown_left(url, "huggingface") <= 60
    assert route(url, FREE)["panic"] is True, "the only provider is open: panic mode"
    stack.fault("huggingface", error_rate=1.0, status=429, retry_after=1)
    calls = stack.calls("huggingface")
    assert execute_any(url, FREE) == 502
    assert stack.calls("huggingface") == calls + 1, "panic mode called it again"
    assert 57 <= cooldown_left(url, "huggingface") <= 60, "Retry-After 1 s shortened the deadline"
    assert health(url)["huggingface"]["ejections"] == 0, "a 429 does not count against health"


def test_every_provider_open_panic_serves_from_the_soonest_cooldown(stack: Stack) -> None:
    providers = ("deepseek", "openrouter", "mistral")
    url = stack.start("svc", **only_keys(*providers), ROUTER_HEALTH_PROBES="false")
    for p in providers:
        stack.fault(p, error_rate=1.0, status=500)
    for _ in range(12):
        if all(health(url)[p]["state"] == "open" for p in providers):
            break
        execute_any(url)
    states = health(url)
    assert all(states[p]["state"] == "open" for p in providers)
    soonest = min(providers, key=lambda p: states[p]["cooldown_until"])
    for p in providers:
        stack.fault(p)
    decision = route(url)
    assert decision["panic"] is True
    assert decision["primary_provider"] == soonest
    answer = execute(url)
    assert answer["provider"] == soonest
    assert [a["provider"] for a in answer["attempts"]] == [soonest]
