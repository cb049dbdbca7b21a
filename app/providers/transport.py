"""The outbound transport: httpx's API over aiohttp, plus a one-shot POST that skips both.

`AsyncClient.send` through httpx-aiohttp wraps every call in httpx's request, response, cookie
jar (parsed on each reply), redirect and auth machinery, and aiohttp's own request costs about
as much again. Non-streamed provider calls only need status, headers and a size-capped body, so
`FastTransport.post` sends them on its own kept-alive HTTP/1.1 connections (app/providers/http1.py).
Everything else (streams, other callers, tests with `httpx.MockTransport`) uses the transport
through httpx as before. Both paths raise the same httpx exceptions for the same failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from app.providers.http1 import Http1Pool

# aiohttp's connector default, used when the limits set none (as httpx-aiohttp does).
DEFAULT_LIMIT = 100


@dataclass(frozen=True, slots=True)
class RawReply:
    """A provider's answer: status, headers (case-insensitive) and the whole body."""

    status_code: int
    headers: Mapping[str, str]
    body: bytes


def client_timeout(timeout: httpx.Timeout) -> aiohttp.ClientTimeout:
    """The aiohttp timeouts httpx-aiohttp derives from an httpx.Timeout (connect, read, pool)."""
    return aiohttp.ClientTimeout(sock_connect=timeout.connect, sock_read=timeout.read, connect=timeout.pool)


class FastTransport(AiohttpTransport):
    """httpx-aiohttp's transport with a direct POST for whole (non-streamed) replies."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = self.limits.max_connections
        # Its own connections, apart from aiohttp's (streams): each pool keeps to the limit.
        self.http1 = Http1Pool(ssl_context=self.ssl_context, limit=DEFAULT_LIMIT if limit is None else limit,
                               keepalive_s=self.limits.keepalive_expiry)

    def get_client(self) -> aiohttp.ClientSession:
        """One pooled session; no cookie jar, so no provider cookie is kept or sent between tenants."""
        if self.client is not None:
            return super().get_client()
        limit = self.limits.max_connections
        connector = aiohttp.TCPConnector(keepalive_timeout=self.limits.keepalive_expiry, ssl=self.ssl_context,
                                         limit=DEFAULT_LIMIT if limit is None else limit)
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    async def post(
        self, url: str, headers: Mapping[str, str], content: bytes, *, timeouts: aiohttp.ClientTimeout,
        cap: int,
    ) -> RawReply:
        """POST `content` and read the reply, refusing bodies over `cap` bytes (after decoding).

        Raises httpx.TransportError subclasses (as the httpx path would) or ProviderError for an
        oversized body. Like the httpx path: no redirects followed, no cookies kept, the body
        decoded per Content-Encoding.
        """
        status, received, body = await self.http1.post(
            url, headers, content, connect_s=timeouts.sock_connect, pool_s=timeouts.connect,
            read_s=timeouts.sock_read, cap=cap)
        return RawReply(status, received, body)

    async def aclose(self) -> None:
        self.http1.close()
        await super().aclose()
