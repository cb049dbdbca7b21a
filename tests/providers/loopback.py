"""Raw TCP servers on free loopback ports for the HTTP client tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

Handle = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def listen(handle: Handle, servers: list[asyncio.Server]) -> str:
    """Serve `handle` on a free port (added to `servers`, for the caller to close); the chat URL."""
    listening = await asyncio.start_server(handle, "127.0.0.1", 0)
    servers.append(listening)
    return f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}/v1/chat/completions"
