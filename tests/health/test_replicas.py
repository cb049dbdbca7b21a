"""Two service processes sharing health through the test's own redis-server.

Failures replica A sees (calls pinned to a provider, fallbacks answering) open the breaker for
replica B, whose /execute then leaves it out; with Redis stopped
both keep serving on their own state; once Redis is back they share again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.health.redis_server import RedisServer
from tests.health.stack import CHAT_LOW, Stack, execute, health, route
from tests.health.test_breaker_service import only_keys, wait_for

pytestmark = pytest.mark.slow

# chat/low is deepseek first; reasoning/medium and rag/medium start elsewhere (see route()).
RAG = {"task_type": "rag", "budget": "medium", "prompt": "Summarise the context."}
KEYED = ("deepseek", "openrouter", "mistral", "cohere", "gemini")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path, cooldown_base_s=30)
    yield s
    s.close()


def _open_by_failures(stack: Stack, url: str, provider: str, body: dict[str, Any] | None = None) -> None:
    """Make `provider`, the first choice for `body`, fail until `url`'s replica has ejected it.

    The calls pin it (OpenAI API, `provider/model`), so it is tried first each time even once it is
    degraded, and only it fails: the fallbacks answer, so no other breaker opens on the way. (With
    every provider failing, as before, the others piled up failures too, and the last one still
    closed could open as well, leaving B nothing but panic mode.)"""
    body = body or CHAT_LOW
    first = route(url, body)["chain"][0]
    assert first["provider"] == provider
    pinned = {"model": f"{provider}/{first['model']}", "task_type": body["task_type"],
              "budget": body["budget"], "messages": [{"role": "user", "content": body["prompt"]}]}
    stack.fault(provider, error_rate=1.0, status=500)
    for _ in range(6):
        if health(url)[provider]["state"] == "open":
            break
        answer = httpx.post(f"{url}/v1/chat/completions", json=pinned, timeout=30)
        assert answer.status_code == 200 and answer.json()["router"]["provider"] != provider, answer.text
    stack.fault(provider)
    assert health(url)[provider]["state"] == "open"


def test_replicas_share_ejections_and_survive_a_redis_outage(stack: Stack, own_redis: RedisServer) -> None:
    env = {**only_keys(*KEYED), "REDIS_URL": own_redis.url, "ROUTER_HEALTH_PROBES": "false"}
    a = stack.start("a", **env)
    b = stack.start("b", **env)
    assert route(b)["primary_provider"] == "deepseek"

    _open_by_failures(stack, a, "deepseek")
    wait_for(lambda: health(b)["deepseek"]["state"] == "open", timeout=5)
    assert health(b)["deepseek"]["cooldown_until"] == health(a)["deepseek"]["cooldown_until"]
    calls = stack.calls("deepseek")
    for _ in range(5):
        answer = execute(b)
        assert all(at["provider"] != "deepseek" for at in answer["attempts"])
    assert stack.calls("deepseek") == calls, "replica B sent traffic to the provider A ejected"

    own_redis.stop()
    for url in (a, b):  # both keep serving, each on its own state
        assert execute(url)["provider"] != "deepseek"
    rag_primary = route(a, RAG)["primary_provider"]
    _open_by_failures(stack, b, rag_primary, RAG)
    assert health(a)[rag_primary]["state"] == "closed", "no Redis: A cannot know what B saw"
    assert execute(a, RAG)["provider"] == rag_primary

    own_redis.start()
    # B's ejection made during the outage is merged into the shared state; A enforces it
    wait_for(lambda: health(a)[rag_primary]["state"] == "open", timeout=10)
    assert health(a)["deepseek"]["state"] == "open", "A kept its own ejection through the outage"
    # and fresh failures are shared again, now from A to B
    medium = {"task_type": "chat", "budget": "medium", "prompt": "Hello"}
    target = route(a, medium)["primary_provider"]
    assert target not in {"deepseek", rag_primary}
    _open_by_failures(stack, a, target, medium)
    wait_for(lambda: health(b)[target]["state"] == "open", timeout=5)
    decision = route(b, medium)
    assert decision["primary_provider"] != target and not decision["panic"]
    assert {"provider": target, "reason": "unhealthy"}.items() <= next(
        e for e in decision["excluded"] if e["provider"] == target).items()
