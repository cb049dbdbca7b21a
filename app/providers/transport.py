"""The outbound transport: httpx's API over aiohttp, plus a one-shot POST that skips httpx's models.

`AsyncClient.send` through httpx-aiohttp wraps every call in httpx's request, response, cookie
jar (parsed on each reply), redirect and auth machinery: about half of what /execute spends on
its provider call. Non-streamed provider calls only need status, headers and a size-capped body,
so `FastTransport.post` asks aiohttp directly. Everything else (streams, other callers, tests
with `httpx.MockTransport`) uses the transport through httpx as before. Errors are mapped by
httpx-aiohttp's own table, so both paths raise the same httpx exceptions for the same failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import map_aiohttp_exceptions

from app.providers.errors import ErrorClass, ProviderError

READ_CHUNK = 64 * 1024


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

    def get_client(self) -> aiohttp.ClientSession:
        """One pooled session; no cookie jar, so no provider cookie is kept or sent between tenants."""
        if self.client is not None:
            return super().get_client()
        limit = self.limits.max_connections  # None: aiohttp's default, as httpx-aiohttp does
        connector = aiohttp.TCPConnector(keepalive_timeout=self.limits.keepalive_expiry, ssl=self.ssl_context,
                                         limit=100 if limit is None else limit)
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
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        with map_aiohttp_exceptions():
            async with self.client.request(
                "POST", url, headers=headers, data=content, allow_redirects=False, compress=False,
                timeout=timeouts,
            ) as response:
                declared = response.content_length
                if declared is not None and declared > cap:
                    raise ProviderError(ErrorClass.INVALID_RESPONSE,
                                        f"response of {declared} bytes over the cap")
                body = await read_capped(response.content, cap)
                return RawReply(response.status, response.headers, body)


async def read_capped(stream: aiohttp.StreamReader, cap: int) -> bytes:
    """The whole body, refusing more than `cap` bytes."""
    first = await stream.read(cap + 1)  # a small reply arrives in one piece
    if len(first) > cap:
        raise ProviderError(ErrorClass.INVALID_RESPONSE, f"response over {cap} bytes")
    if stream.at_eof():
        return first
    chunks = [first]
    size = len(first)
    while True:
        chunk = await stream.read(READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > cap:
            raise ProviderError(ErrorClass.INVALID_RESPONSE, f"response over {cap} bytes")
        chunks.append(chunk)
