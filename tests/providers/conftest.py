"""A fake provider at the HTTP boundary (httpx.MockTransport) and a pool of our adapters over it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest

from app.config.catalog import Catalog
from app.providers.pool import ProviderPool

KEYS = {
    "OPENAI_API_KEY": "sk-test-openai",
    "ANTHROPIC_API_KEY": "sk-ant-test",
    "MISTRAL_API_KEY": "mistral-key",
    "DEEPSEEK_API_KEY": "ds-key",
    "GEMINI_API_KEY": "gemini-key",
    "COHERE_API_KEY": "co-key",
    "VERTEX_AI_ACCESS_TOKEN": "ya29.test-token",
    "VERTEX_AI_PROJECT": "my-project",
    "AZURE_OPENAI_API_KEY": "azure-key",
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "OPENROUTER_API_KEY": "or-key",
    "PERPLEXITY_API_KEY": "pplx-key",
    "HF_TOKEN": "hf-key",
}

Reply = httpx.Response | Callable[[httpx.Request], httpx.Response] | Exception


class FakeProvider:
    """Answers each request with the next queued reply and keeps every request it saw."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.replies: list[Reply] = []

    def reply(
        self,
        status: int = 200,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> None:
        content = raw if raw is not None else orjson.dumps(body)
        self.replies.append(
            httpx.Response(status, content=content, headers={"content-type": content_type, **(headers or {})})
        )

    def fail(self, exc: Exception) -> None:
        self.replies.append(exc)

    def handler(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            return reply(request)
        return reply

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def last_json(self) -> Any:
        return orjson.loads(self.last.content)


@pytest.fixture
def fake() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
async def pool(catalog: Catalog, fake: FakeProvider) -> AsyncIterator[ProviderPool]:
    opened = await ProviderPool.open(catalog, environ=KEYS, transport=httpx.MockTransport(fake.handler))
    yield opened
    await opened.aclose()


def sse(*events: str | tuple[str, str]) -> bytes:
    """An event-stream body: plain data lines, or (event, data) pairs."""
    out = []
    for event in events:
        if isinstance(event, tuple):
            out.append(f"event: {event[0]}\ndata: {event[1]}\n\n")
        else:
            out.append(f"data: {event}\n\n")
    return "".join(out).encode()
