"""ASGI middleware that answers 413 in the error envelope once a body passes the cap.

FastAPI's own `max_body_size` answers a declared oversize body with plain text, which would
break the one-envelope contract, hence this small middleware. A declared Content-Length over
the cap is refused before the app runs; a streamed body that grows past it raises
`BodyTooLarge` (an HTTPException, so every body parser lets it through to the one handler).
"""

from __future__ import annotations

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body is over the {max_bytes}-byte limit; send less")
        self.max_bytes = max_bytes


class BodySizeLimit:
    """Checks Content-Length up front and counts streamed bytes, so no body over the cap is read."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._reject(send)
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)

    async def _reject(self, send: Send) -> None:
        error = BodyTooLarge(self.max_bytes)
        body = orjson.dumps({"error": {
            "code": "payload_too_large", "message": error.detail,
            "details": {"max_bytes": self.max_bytes},
        }})
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]})
        await send({"type": "http.response.body", "body": body})
