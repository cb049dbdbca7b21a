"""Server-sent events from a provider, with transport and status errors already classified."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import httpx
from httpx_sse import EventSource, ServerSentEvent, SSEError

from app.providers.base import ProviderAdapter
from app.providers.errors import ErrorClass, ProviderError, classify_transport


async def sse_events(
    adapter: ProviderAdapter, url: str, headers: dict[str, str], content: bytes
) -> AsyncGenerator[ServerSentEvent, None]:
    """POST, check the status, then yield each event; the caller decides what ends the stream."""
    headers = {**headers, "accept": "text/event-stream"}
    try:
        response = await adapter.open_stream(url, headers, content)
        try:
            await adapter.raise_for_stream(response)
            async for event in EventSource(response).aiter_sse():
                yield event
        finally:
            await response.aclose()
    except httpx.TransportError as exc:
        raise classify_transport(exc) from exc
    except SSEError as exc:
        raise ProviderError(ErrorClass.INVALID_RESPONSE, f"not an event stream: {exc}") from exc


def ended_early() -> ProviderError:
    """A stream that stopped before its terminal event: truncated, never a clean end."""
    return ProviderError(ErrorClass.INVALID_RESPONSE, "the stream ended before its final event")
