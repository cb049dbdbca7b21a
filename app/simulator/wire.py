"""What every simulated wire format shares: the parsed chat, replies, streams and wire errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from app.simulator.completion import Chat, Completion
from app.simulator.providers import ModelTable


@dataclass(frozen=True)
class Inbound:
    """One request as a dialect sees it: where it went, its headers, query and body."""

    provider: str
    path: str
    path_params: Mapping[str, str]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Meta:
    """Identity of one answer: the provider, a request id and the creation time."""

    provider: str
    request_id: str
    created: int


@dataclass(frozen=True)
class Reply:
    """A complete (non-streamed) HTTP answer."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    media_type: str = "application/json"


@dataclass(frozen=True)
class StreamPlan:
    """A streamed answer as encoded frames: preamble, one frame per content chunk, closing frames."""

    head: tuple[bytes, ...]
    content: tuple[bytes, ...]
    tail: tuple[bytes, ...]
    media_type: str
    headers: Mapping[str, str] = field(default_factory=dict)


class WireError(Exception):
    """A request the provider refuses; carries the provider-shaped reply and the stats outcome."""

    def __init__(self, reply: Reply, outcome: str) -> None:
        super().__init__(outcome)
        self.reply = reply
        self.outcome = outcome


class Dialect(Protocol):
    """One wire format: pure checks and translations, no I/O."""

    def authenticate(self, inbound: Inbound) -> None: ...

    def parse(self, inbound: Inbound, models: ModelTable) -> Chat: ...

    def render(self, chat: Chat, completion: Completion, meta: Meta) -> Reply: ...

    def stream(self, chat: Chat, completion: Completion, meta: Meta) -> StreamPlan: ...

    def error(self, status: int, message: str, meta: Meta) -> Reply: ...

    def list_models(self, names: tuple[str, ...], meta: Meta) -> Reply: ...


def dumps(value: Any) -> bytes:
    """JSON bytes, the way every simulated provider serialises."""
    return orjson.dumps(value)


def json_reply(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Reply:
    """A JSON reply."""
    return Reply(status, dumps(body), dict(headers or {}))


def load_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not one."""
    try:
        value = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def sse(data: Any, event: str | None = None, *, sep: str = "\n\n") -> bytes:
    """One Server-Sent Event frame with an optional event name."""
    payload = data if isinstance(data, bytes) else dumps(data)
    prefix = f"event: {event}\n".encode() if event else b""
    return prefix + b"data: " + payload + sep.encode()


def is_int(value: Any) -> bool:
    """JSON integers only: booleans are not numbers here."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """JSON numbers only: booleans are not numbers here."""
    return isinstance(value, int | float) and not isinstance(value, bool)


REFUSED_KEY_PREFIX = "invalid"


def bearer_token(headers: Mapping[str, str]) -> str:
    """The token of an `Authorization: Bearer …` header, or an empty string."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def refused(key: str) -> bool:
    """Keys starting with 'invalid' stand for a wrong key: the provider answers as for a bad key."""
    return key.startswith(REFUSED_KEY_PREFIX)
