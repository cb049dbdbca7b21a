"""Streams, and whatever else goes through httpx, over aiohttp (httpx-aiohttp's transport).

Imported by app/providers/transport.py at the first such request, not at start-up: aiohttp's
import (its connector builds two TLS contexts) took 0.1-0.2 s of a ~1.1 s start here.
"""

from __future__ import annotations

import aiohttp
from httpx_aiohttp import AiohttpTransport

from app.providers.transport import DEFAULT_LIMIT


class StreamTransport(AiohttpTransport):
    """httpx-aiohttp's transport with one pooled session of our limits."""

    def get_client(self) -> aiohttp.ClientSession:
        """One pooled session; no cookie jar, so no provider cookie is kept or sent between tenants."""
        if self.client is not None:
            return super().get_client()
        limit = self.limits.max_connections
        connector = aiohttp.TCPConnector(keepalive_timeout=self.limits.keepalive_expiry, ssl=self.ssl_context,
                                         limit=DEFAULT_LIMIT if limit is None else limit)
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())
