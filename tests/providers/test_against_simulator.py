"""Every adapter completes and streams against the provider simulator (real HTTP, on the pool's own
connections)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from app.config.catalog import Catalog
from app.providers.messages import chat_request
from app.providers.openai_chat import STREAM_USAGE_OPTION
from app.providers.pool import ProviderPool
from app.simulator import SimulatorServer
from tests.providers.conftest import KEYS

PROVIDERS = [
    "openai",
    "azure_openai",
    "deepseek",
    "mistral",
    "openrouter",
    "perplexity",
    "huggingface",
    "anthropic",
    "gemini",
    "vertex_ai",
    "cohere",
    "bedrock",
]

# Every non-OpenAI-format provider reports usage in its stream; OpenAI-format ones when asked.
PROTOCOL_REPORTS_STREAM_USAGE = STREAM_USAGE_OPTION | {
    "anthropic",
    "gemini",
    "vertex_ai",
    "cohere",
    "bedrock",
}


@pytest.fixture(scope="module")
def simulator(catalog: Catalog) -> Iterator[SimulatorServer]:
    with SimulatorServer(catalog=catalog) as server:
        yield server


@pytest.fixture
async def live_pool(simulator: SimulatorServer, catalog: Catalog) -> AsyncIterator[ProviderPool]:
    pool = await ProviderPool.open(simulator.catalog(catalog), environ=KEYS)
    yield pool
    await pool.aclose()


def target_of(pool: ProviderPool, provider: str) -> tuple[str, str]:
    spec = pool.catalog.providers[provider]
    return spec.models[0].name, spec.all_deployments()[-1].name


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_complete_and_stream(live_pool: ProviderPool, provider: str) -> None:
    assert provider in live_pool.available()
    model, deployment = target_of(live_pool, provider)
    target = live_pool.target(provider, model, deployment)
    request = chat_request(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}],
        max_tokens=200,
    )
    adapter = live_pool.adapters[provider]
    completion = await adapter.complete(target, request)
    assert "Hello there" in completion.content
    assert (
        completion.usage is not None
        and completion.usage.input_tokens > 0
        and completion.usage.output_tokens > 0
    )
    chunks = [c async for c in adapter.stream(target, request)]
    streamed = "".join(c.text for c in chunks)
    assert streamed == completion.content  # the simulator's answers are deterministic
    usage = [c.usage for c in chunks if c.usage is not None]
    if provider in PROTOCOL_REPORTS_STREAM_USAGE or usage:
        assert usage and usage[-1].output_tokens == completion.usage.output_tokens
    # else: asked without stream_options, the stream carries no usage; execution counts the tokens
    assert any(c.finish_reason for c in chunks)
