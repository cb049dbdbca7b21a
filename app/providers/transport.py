"""The outbound transport: httpx's API over aiohttp, plus provider POSTs that skip both.

`AsyncClient.send` through httpx-aiohttp wraps every call in httpx's request, response, cookie
jar (parsed on each reply), redirect and auth machinery, and aiohttp's own request costs about
as much again. A provider call only needs status, headers and the body, so `FastTransport.post`
(whole replies, size-capped) and `FastTransport.open_stream` (streams: an httpx.Response whose body
arrives as it is read) send it on the transport's own kept-alive HTTP/1.1 connections
(app/providers/http1.py). Everything else (other callers; tests use `httpx.MockTransport`
instead) goes through httpx to httpx-aiohttp's transport (app/providers/aiohttp_streams.py),
imported at its first request so that start-up does not wait for aiohttp. All paths raise the
same httpx exceptions for the same failure.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from app.providers.http1 import Http1Pool

if TYPE_CHECKING:
    from app.providers.aiohttp_streams import StreamTransport

# aiohttp's connector default, used when the limits set none (as httpx-aiohttp does).
DEFAULT_LIMIT = 100
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)  # httpx-aiohttp's


@dataclass(frozen=True, slots=True)
class RawReply:
    """A provider's answer: status, headers (case-insensitive) and the whole body."""

    status_code: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class PostTimeouts:
    """A whole-reply POST's limits in seconds (None: none): to connect a socket, to wait for a
    pooled connection, and between two reads."""

    connect_s: float | None
    pool_s: float | None
    read_s: float | None


def client_timeout(timeout: httpx.Timeout) -> PostTimeouts:
    """The limits httpx-aiohttp derives from an httpx.Timeout (connect, pool, read)."""
    return PostTimeouts(connect_s=timeout.connect, pool_s=timeout.pool, read_s=timeout.read)


class FastTransport(httpx.AsyncBaseTransport):
    """Provider calls on our own connections (`post` for whole replies, `open_stream` for streams);
    everything else through httpx-aiohttp's transport, built, and aiohttp imported, at its first
    request (`streams`).

    `verify` is httpx's (a context, or True/False), or a function giving the context: either way
    the context is built at the first TLS connection or stream, not at start-up (loading the CA
    bundle costs ~50 ms here)."""

    def __init__(self, verify: ssl.SSLContext | bool | Callable[[], ssl.SSLContext] = True, *,
                 limits: httpx.Limits = DEFAULT_LIMITS, trust_env: bool = True) -> None:
        self._verify = verify
        self._ssl_context: ssl.SSLContext | None = None
        self.limits = limits
        self._trust_env = trust_env
        self._streams: StreamTransport | None = None
        limit = limits.max_connections

        def own_pool() -> Http1Pool:
            return Http1Pool(ssl_context=lambda: self.ssl_context,
                             limit=DEFAULT_LIMIT if limit is None else limit,
                             keepalive_s=limits.keepalive_expiry)

        # Whole replies' connections, streams' (a long stream does not hold up a short call) and
        # aiohttp's, apart: each pool keeps to the limit.
        self.http1, self.http1_streams = own_pool(), own_pool()

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context of both paths, built at its first use."""
        if self._ssl_context is None:
            verify = self._verify
            self._ssl_context = (verify() if callable(verify)
                                 else httpx.create_ssl_context(verify=verify, trust_env=self._trust_env))
        return self._ssl_context

    @property
    def streams(self) -> StreamTransport:
        """httpx-aiohttp's transport, on the same TLS context and limits."""
        if self._streams is None:
            from app.providers.aiohttp_streams import StreamTransport  # aiohttp: at first use

            self._streams = StreamTransport(verify=self.ssl_context, limits=self.limits,
                                            trust_env=self._trust_env)
        return self._streams

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.streams.handle_async_request(request)

    async def post(
        self, url: str, headers: Mapping[str, str], content: bytes, *, timeouts: PostTimeouts, cap: int,
    ) -> RawReply:
        """POST `content` and read the reply, refusing bodies over `cap` bytes (after decoding).

        Raises httpx.TransportError subclasses (as the httpx path would) or ProviderError for an
        oversized body. Like the httpx path: no redirects followed, no cookies kept, the body
        decoded per Content-Encoding.
        """
        status, received, body = await self.http1.post(
            url, headers, content, connect_s=timeouts.connect_s, pool_s=timeouts.pool_s,
            read_s=timeouts.read_s, cap=cap)
        return RawReply(status, received, body)

    async def open_stream(self, request: httpx.Request, url: str, headers: Mapping[str, str], content: bytes,
                          *, timeouts: PostTimeouts) -> httpx.Response:
        """POST `content` (what `request` says) and return the response once its head is in, its body
        streaming in on the streams' own connections. The caller reads and closes it, as httpx's
        `send(stream=True)`."""
        status, raw_headers, body = await self.http1_streams.open(
            url, headers, content, connect_s=timeouts.connect_s, pool_s=timeouts.pool_s,
            read_s=timeouts.read_s)
        return httpx.Response(status, headers=raw_headers, stream=body, request=request,
                              extensions={"http_version": b"HTTP/1.1"})

    async def aclose(self) -> None:
        self.http1.close()
        self.http1_streams.close()
        if self._streams is not None:
            await self._streams.aclose()


class DeferredTransport(httpx.AsyncBaseTransport):
    """httpx's own transport, built at its first request with the context `tls` gives then (for
    clients created at start-up that may never make a TLS call, or not soon)."""

    def __init__(self, tls: Callable[[], ssl.SSLContext]) -> None:
        self._tls = tls
        self._transport: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._transport is None:
            self._transport = httpx.AsyncHTTPTransport(verify=self._tls())
        return await self._transport.handle_async_request(request)

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()
