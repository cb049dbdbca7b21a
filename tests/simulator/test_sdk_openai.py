"""The official openai SDK (OpenAI and AzureOpenAI clients) against the simulator."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from app.config.catalog import Catalog
from app.simulator import SimulatorServer
from tests.simulator.conftest import real_base, tokens

OPENAI_COMPATIBLE = ["openai", "deepseek", "mistral", "openrouter", "perplexity", "huggingface"]
SYSTEM = "You answer in two short lines."
PROMPT = "Summarise the plot of Hamlet, please."


@pytest.fixture
def clients() -> Iterator[list[openai.OpenAI]]:
    made: list[openai.OpenAI] = []
    yield made
    for client in made:
        client.close()


def _client(
    clients: list[openai.OpenAI], sim: SimulatorServer, catalog: Catalog, provider: str, key: str = "sk-test"
) -> openai.OpenAI:
    client = openai.OpenAI(
        base_url=sim.base_url(provider, real_base(catalog, provider)), api_key=key, max_retries=0
    )
    clients.append(client)
    return client


@pytest.mark.parametrize("provider", OPENAI_COMPATIBLE)
def test_chat_and_stream_with_usage(
    clients: list[openai.OpenAI], sim: SimulatorServer, catalog: Catalog, provider: str
) -> None:
    client = _client(clients, sim, catalog, provider)
    model = catalog.providers[provider].models[0].name
    messages: list[openai.types.chat.ChatCompletionMessageParam] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": PROMPT},
    ]

    reply = client.chat.completions.create(model=model, messages=messages)
    text = reply.choices[0].message.content or ""
    assert reply.model == model
    assert reply.choices[0].finish_reason == "stop"
    assert PROMPT in text
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == tokens(SYSTEM) + tokens(PROMPT)
    assert reply.usage.completion_tokens == tokens(text)
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens

    chunks = list(
        client.chat.completions.create(
            model=model,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    final = chunks[-1]
    assert final.choices == [] and final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (
        reply.usage.prompt_tokens,
        reply.usage.completion_tokens,
    )
    assert all(c.usage is None for c in chunks[:-1])
    assert sim.stats()["providers"][provider] == {"requests": 2, "errors": 0, "by_outcome": {"ok": 2}}


def test_stream_without_include_usage_sends_no_usage(
    clients: list[openai.OpenAI], sim: SimulatorServer, catalog: Catalog
) -> None:
    chunks = list(
        _client(clients, sim, catalog, "openai").chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": PROMPT}],
            stream=True,
        )
    )
    assert chunks and all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)


def test_max_tokens_cuts_the_answer(
    clients: list[openai.OpenAI], sim: SimulatorServer, catalog: Catalog
) -> None:
    reply = _client(clients, sim, catalog, "deepseek").chat.completions.create(
        model="deepseek-chat",
        messages=[{"role": "user", "content": PROMPT}],
        max_tokens=5,
    )
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None and reply.usage.completion_tokens == 5
    assert len(reply.choices[0].message.content or "") == 20


def test_sdk_raises_its_own_errors(
    clients: list[openai.OpenAI], sim: SimulatorServer, catalog: Catalog
) -> None:
    client = _client(clients, sim, catalog, "openai")
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(
            model="gpt-4", messages=[{"role": "user", "content": "x"}], max_tokens=100_000
        )
    assert bad.value.param == "max_tokens" and bad.value.code == "invalid_value"
    assert "at most 8192" in bad.value.message
    with pytest.raises(openai.AuthenticationError) as auth:
        _client(clients, sim, catalog, "openai", key="invalid-key").models.list()
    assert auth.value.code == "invalid_api_key"


def test_model_list_names_catalog_models(
    clients: list[openai.OpenAI], sim: SimulatorServer, catalog: Catalog
) -> None:
    listed = {m.id for m in _client(clients, sim, catalog, "mistral").models.list()}
    assert listed == {m.name for m in catalog.providers["mistral"].models}


def test_azure_client_chat_and_stream(
    clients: list[openai.OpenAI], sim: SimulatorServer, catalog: Catalog
) -> None:
    spec = catalog.providers["azure_openai"]
    for deployment in spec.deployments:
        client = openai.AzureOpenAI(
            azure_endpoint=sim.base_url("azure_openai", str(deployment.base_url)),
            api_version=spec.api_version,
            api_key="azure-key",
            max_retries=0,
        )
        clients.append(client)
        reply = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": PROMPT}])
        assert reply.model == "gpt-4o"
        assert reply.usage is not None and reply.usage.prompt_tokens == tokens(PROMPT)
        chunks = list(
            client.chat.completions.create(
                model="gpt-4o",
                messages=[{"role": "user", "content": PROMPT}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        assert (
            "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            == reply.choices[0].message.content
        )
        assert chunks[-1].usage is not None
        assert chunks[-1].usage.completion_tokens == reply.usage.completion_tokens


def test_azure_needs_api_version_and_key(sim: SimulatorServer) -> None:
    url = f"{sim.base_url('azure_openai')}/openai/deployments/gpt-4o/chat/completions"
    body = {"messages": [{"role": "user", "content": "hi"}]}
    no_version = httpx.post(url, json=body, headers={"api-key": "k"})
    assert no_version.status_code == 404
    assert no_version.json() == {"error": {"code": "404", "message": "Resource not found"}}
    no_key = httpx.post(url, params={"api-version": "2024-10-21"}, json=body)
    assert no_key.status_code == 401 and no_key.json()["error"]["code"] == "401"
    ok = httpx.post(url, params={"api-version": "2024-10-21"}, json=body, headers={"api-key": "k"})
    assert ok.status_code == 200 and ok.json()["model"] == "gpt-4o"
