"""The direct POST for whole replies (app/providers/transport.py over app/providers/http1.py)
against a real local server: the same status, headers, body, caps and error classes as the httpx
client over httpx's own transport, which serves every other request of the client."""

from __future__ import annotations

import gzip
import socket
import ssl
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from aiohttp import web

from app.config.catalog import Catalog
from app.providers.base import Completion, ProviderAdapter, Target
from app.providers.errors import ErrorClass, ProviderError
from app.providers.messages import chat_request
from app.providers.pool import build_client
from app.providers.registry import adapter_class
from app.providers.transport import DeferredTransport, FastTransport, client_timeout

COMPLETION = {
    "id": "chatcmpl-1", "object": "chat.completion", "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 7, "completion_tokens": 3},
}


class Upstream:
    """A provider stand-in: each path answers one way; every request's headers are kept."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(dict(request.headers))
        await request.read()
        kind = request.match_info["kind"]
        if kind == "ok":
            return web.json_response(COMPLETION, headers={"set-cookie": "session=abc; Path=/"})
        if kind == "gzip":
            return web.Response(body=gzip.compress(orjson.dumps(COMPLETION)),
                                headers={"content-type": "application/json", "content-encoding": "gzip"})
        if kind == "limited":
            return web.json_response({"error": {"message": "slow down", "type": "rate_limit"}}, status=429,
                                     headers={"Retry-After": "7"})
        if kind == "broken":
            return web.json_response({"error": {"message": "boom"}}, status=500)
        if kind == "big":
            return web.Response(body=b"x" * 5000, content_type="application/json")
        if kind == "bigchunked":
            response = web.StreamResponse(headers={"content-type": "application/json"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            for _ in range(10):
                await response.write(b"y" * 1000)
            await response.write_eof()
            return response
        if kind == "cut":
            response = web.StreamResponse(
                headers={"content-type": "application/json", "content-length": "500"})
            await response.prepare(request)
            await response.write(b'{"id": "x"')
            assert request.transport is not None
            request.transport.close()
            return response
        raise web.HTTPNotFound()


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    up = Upstream()
    app = web.Application()
    app.router.add_post("/{kind}/chat/completions", up.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None and server.sockets
    up.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    yield up
    await runner.cleanup()


def adapter_over(catalog: Catalog, client: httpx.AsyncClient) -> ProviderAdapter:
    spec = catalog.providers["deepseek"]
    return adapter_class("deepseek", spec)("deepseek", spec, client, {spec.api_key_env: "ds-key"})


async def outcome(adapter: ProviderAdapter, base_url: str) -> Completion | ProviderError:
    model = adapter.spec.models[0].name
    target = Target(provider="deepseek", model=model, upstream_model=model, deployment="default",
                    base_url=base_url)
    try:
        return await adapter.complete(target, chat_request([{"role": "user", "content": "hi"}]))
    except ProviderError as exc:
        return exc


@pytest.fixture
async def both(catalog: Catalog) -> AsyncIterator[tuple[ProviderAdapter, ProviderAdapter]]:
    """The pool's adapter (fast path) and one whose client sends through httpx (its own transport)."""
    spec = catalog.providers["deepseek"]
    fast = adapter_over(catalog, build_client(spec))
    limits = httpx.Limits(max_connections=8)
    slow = adapter_over(catalog, build_client(spec, FastTransport(limits=limits, trust_env=False)))
    slow._fast = None  # through httpx's client to the transport's generic (httpx's own) transport
    yield fast, slow
    await fast.client.aclose()
    await slow.client.aclose()


def test_the_pool_client_takes_the_fast_path_and_a_mock_transport_does_not(catalog: Catalog) -> None:
    spec = catalog.providers["deepseek"]
    assert adapter_over(catalog, build_client(spec))._fast is not None
    mocked = adapter_over(catalog, build_client(spec, httpx.MockTransport(lambda r: httpx.Response(200))))
    assert mocked._fast is None


@pytest.mark.parametrize("kind", ["ok", "gzip"])
async def test_a_completion_reads_the_same_on_both_paths(
    both: tuple[ProviderAdapter, ProviderAdapter], upstream: Upstream, kind: str
) -> None:
    results = [await outcome(adapter, f"{upstream.url}/{kind}") for adapter in both]
    assert all(isinstance(r, Completion) for r in results)
    assert results[0] == results[1]
    assert isinstance(results[0], Completion) and results[0].content == "hello"
    assert results[0].usage is not None and results[0].usage.input_tokens == 7
    assert upstream.seen[0]["Authorization"] == "Bearer ds-key"


@pytest.mark.parametrize(("kind", "error_class", "status", "retry_after"), [
    ("limited", ErrorClass.RATE_LIMITED, 429, 7.0),
    ("broken", ErrorClass.SERVER_ERROR, 500, None),
    ("cut", ErrorClass.INVALID_RESPONSE, None, None),
])
async def test_errors_classify_the_same_on_both_paths(
    both: tuple[ProviderAdapter, ProviderAdapter], upstream: Upstream, kind: str,
    error_class: ErrorClass, status: int | None, retry_after: float | None,
) -> None:
    for adapter in both:
        error = await outcome(adapter, f"{upstream.url}/{kind}")
        assert isinstance(error, ProviderError), (adapter._fast, error)
        got = (error.error_class, error.status_code, error.retry_after_s)
        assert got == (error_class, status, retry_after)


async def test_a_refused_connection_is_a_connection_error_on_both_paths(
    both: tuple[ProviderAdapter, ProviderAdapter],
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    for adapter in both:
        error = await outcome(adapter, f"http://127.0.0.1:{port}")
        assert isinstance(error, ProviderError) and error.error_class is ErrorClass.CONNECTION


@pytest.mark.parametrize("kind", ["big", "bigchunked"])
async def test_a_reply_over_the_cap_is_refused(upstream: Upstream, kind: str) -> None:
    transport = FastTransport(trust_env=False)
    try:
        with pytest.raises(ProviderError) as caught:
            await transport.post(f"{upstream.url}/{kind}/chat/completions", {}, b"{}",
                                 timeouts=client_timeout(httpx.Timeout(5.0)), cap=4096)
        assert caught.value.error_class is ErrorClass.INVALID_RESPONSE
        reply = await transport.post(f"{upstream.url}/{kind}/chat/completions", {}, b"{}",
                                     timeouts=client_timeout(httpx.Timeout(5.0)), cap=20_000)
        assert len(reply.body) in (5000, 10_000)
    finally:
        await transport.aclose()


async def test_no_cookie_is_kept_between_calls(
    both: tuple[ProviderAdapter, ProviderAdapter], upstream: Upstream
) -> None:
    fast, _ = both
    by_name = upstream.url.replace("127.0.0.1", "localhost")  # a jar would keep this host's cookies
    for _ in range(2):
        assert isinstance(await outcome(fast, f"{by_name}/ok"), Completion)
    assert len(upstream.seen) == 2
    assert all("Cookie" not in headers for headers in upstream.seen)


async def test_the_tls_context_is_built_at_first_use_and_shared_by_both_paths(upstream: Upstream) -> None:
    built: list[ssl.SSLContext] = []

    def source() -> ssl.SSLContext:
        built.append(ssl.create_default_context())
        return built[-1]

    transport = FastTransport(verify=source, trust_env=False)
    try:
        reply = await transport.post(f"{upstream.url}/ok/chat/completions", {}, b"{}",
                                     timeouts=client_timeout(httpx.Timeout(5.0)), cap=20_000)
        assert reply.status_code == 200 and built == []  # plain HTTP: nothing loaded
        assert transport.generic._pool._ssl_context is transport.ssl_context is built[0]
        assert len(built) == 1
    finally:
        await transport.aclose()


async def test_a_deferred_transport_builds_httpx_transport_at_its_first_request(upstream: Upstream) -> None:
    calls: list[int] = []

    def source() -> ssl.SSLContext:
        calls.append(1)
        return ssl.create_default_context()

    async with httpx.AsyncClient(transport=DeferredTransport(source)) as client:
        assert calls == []
        for _ in range(2):
            answer = await client.post(f"{upstream.url}/ok/chat/completions", content=b"{}")
            assert answer.status_code == 200
        assert calls == [1]
    async with httpx.AsyncClient(transport=DeferredTransport(source)):
        pass  # closed unused: never built
    assert calls == [1]
