"""The JSON answer of /execute and /v1/chat/completions: sent first, then the request's bookkeeping.

Starlette's `background` would skip its task when sending fails and run a sync one in a thread;
here the bookkeeping (app/execution/bookkeeping.py) runs whether or not the client is still
there, right after the body is handed to the server, so every record and count is kept while
the client no longer waits for them.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.api.errors import json_default
from app.execution.bookkeeping import Bookkeeping

CONTENT_TYPE = (b"content-type", b"application/json")


class AnsweredResponse(Response):
    """A 200 JSON body whose `bookkeeping` runs once it is sent (or failed to send)."""

    media_type = "application/json"

    def __init__(self, body: dict[str, Any], headers: dict[str, str], bookkeeping: Bookkeeping) -> None:
        # Built directly: Response.__init__ re-encodes and re-checks every header (~5 us).
        self.body = orjson.dumps(body, default=json_default)
        self.status_code = 200
        self.background = None
        self.bookkeeping = bookkeeping
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        raw += [(b"content-length", str(len(self.body)).encode()), CONTENT_TYPE]
        self.raw_headers = raw

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.bookkeeping()
