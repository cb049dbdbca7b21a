"""The outbound transport: httpx's API, with provider POSTs on our own connections.

`AsyncClient.send` wraps every call in httpx's request, response, cookie jar (parsed on each
reply), redirect and auth machinery, and the connection library below it costs about as much
again. A provider call only needs status, headers and the body, so `FastTransport.post` (whole
replies, size-capped) and `FastTransport.open_stream` (streams: an httpx.Response whose body
arrives as it is read) send it on the transport's own kept-alive HTTP/1.1 connections
(app/providers/http1.py). Anything else sent through the client (no provider call does; tests use
`httpx.MockTransport` instead) goes to httpx's own transport, built at its first request on the
same TLS context and limits. All paths raise httpx's exceptions, which the adapters classify alike
(tests/providers/test_transport.py).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from app.providers.http1 import Http1Pool

DEFAULT_LIMIT = 100  # connections per pool when the limits set none
DEFAULT_LIMITS = httpx.Limits(max_connections=DEFAULT_LIMIT, max_keepalive_connections=20)


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
    """An httpx.Timeout's connect, pool and read limits, as a POST on our connections applies them."""
    return PostTimeouts(connect_s=timeout.connect, pool_s=timeout.pool, read_s=timeout.read)


class FastTransport(httpx.AsyncBaseTransport):
    """Provider calls on our own connections (`post` for whole replies, `open_stream` for streams);
    anything else through httpx's own transport, built at its first request (`generic`).

    `verify` is httpx's (a context, or True/False), or a function giving the context: either way
    the context is built at the first TLS connection or stream, not at start-up (loading the CA
    bundle costs ~50 ms here)."""

    def __init__(self, verify: ssl.SSLContext | bool | Callable[[], ssl.SSLContext] = True, *,
                 limits: httpx.Limits = DEFAULT_LIMITS, trust_env: bool = True) -> None:
        self._verify = verify
        self._ssl_context: ssl.SSLContext | None = None
        self.limits = limits
        self._trust_env = trust_env
        self._generic: httpx.AsyncHTTPTransport | None = None
        limit = limits.max_connections

        def own_pool() -> Http1Pool:
            return Http1Pool(ssl_context=lambda: self.ssl_context,
                             limit=DEFAULT_LIMIT if limit is None else limit,
                             keepalive_s=limits.keepalive_expiry)

        # Whole replies' connections, streams' (a long stream does not hold up a short call) and
        # httpx's, apart: each pool keeps to the limit.
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
    def generic(self) -> httpx.AsyncHTTPTransport:
        """httpx's own transport, on the same TLS context and limits."""
        if self._generic is None:
            self._generic = httpx.AsyncHTTPTransport(verify=self.ssl_context, limits=self.limits,
                                                     trust_env=self._trust_env)
        return self._generic

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.generic.handle_async_request(request)

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
        if self._generic is not None:
            await self._generic.aclose()


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
