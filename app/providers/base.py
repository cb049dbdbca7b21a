"""The provider interface: what a call asks, what it answers, and the adapter every wire format implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import httpx
import orjson

from app.config.catalog import ProviderSpec
from app.providers.errors import ErrorClass, ProviderError, classify_transport
from app.providers.keyring import KeyRing, load_keys
from app.providers.transport import FastTransport, client_timeout

MAX_RESPONSE_BYTES = 8 * 1024 * 1024
MAX_USAGE_TOKENS = 100_000_000


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image by URL; `data` holds the base64 payload when the URL was a data: URL."""

    url: str
    media_type: str | None = None
    data: str | None = None


Part = TextPart | ImagePart


@dataclass(frozen=True, slots=True)
class Turn:
    role: Literal["user", "assistant"]
    parts: tuple[Part, ...]

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A chat call in provider-neutral form: one system text, then alternating turns."""

    turns: tuple[Turn, ...]
    system: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """Where one attempt goes: provider, model (catalog and wire name) and deployment."""

    provider: str
    model: str
    upstream_model: str
    deployment: str
    base_url: str
    max_output_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens as the provider billed them; cached is part of input, reasoning part of output."""

    input_tokens: int
    output_tokens: int
    cached_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(slots=True)
class Completion:
    content: str
    usage: Usage | None
    finish_reason: str | None = None
    response_id: str | None = None


@dataclass(slots=True)
class ChatChunk:
    """One piece of a stream in OpenAI terms: text delta, then a finish reason and the usage."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    extra: dict[str, object] = field(default_factory=dict)


def bounded_usage(
    input_tokens: object, output_tokens: object, cached: object = 0, reasoning: object = 0
) -> Usage | None:
    """A usage block from untrusted numbers, or None when any is missing, negative or absurd."""
    counts: list[int] = []
    for value in (input_tokens, output_tokens, cached or 0, reasoning or 0):
        if value.__class__ is bool or not isinstance(value, int | float):
            return None
        count = int(value)
        if count < 0 or count > MAX_USAGE_TOKENS:
            return None
        counts.append(count)
    return Usage(counts[0], counts[1], min(counts[2], counts[0]), min(counts[3], counts[1]))


class ProviderAdapter(ABC):
    """One provider behind one wire format, over the provider's own pooled client."""

    protocol: ClassVar[str]

    def __init__(
        self, name: str, spec: ProviderSpec, client: httpx.AsyncClient, environ: Mapping[str, str]
    ) -> None:
        self.name = name
        self.spec = spec
        self.client = client
        # Several keys in turn (app/providers/keyring.py); `key` is the one the next call sends.
        self.keys = KeyRing(name, load_keys(spec.api_key_env, environ))
        # Parsed once: httpx's per-call URL parsing and header merging cost ~150 us a request.
        self._urls: dict[str, httpx.URL] = {}
        self._extensions = {"timeout": client.timeout.as_dict()}
        # Replies on our own connections when the client runs over our transport (the pool's).
        transport = getattr(client, "_transport", None)
        self._fast = transport if isinstance(transport, FastTransport) else None
        self._fast_timeout = client_timeout(client.timeout)

    @property
    def key(self) -> str | None:
        return self.keys.current()

    def unavailable(self) -> ProviderError | None:
        """Why this provider cannot be called (no key, missing extra), or None."""
        if not self.keys:
            return ProviderError(ErrorClass.NO_KEY, f"{self.spec.api_key_env} is not set")
        return None

    async def prepare(self) -> None:  # noqa: B027 - most adapters have nothing to load
        """Load what the adapter needs before the first call (run once in the lifespan)."""

    @abstractmethod
    async def complete(self, target: Target, request: ChatRequest) -> Completion:
        """One non-streamed call; raises ProviderError."""

    @abstractmethod
    def stream(self, target: Target, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """One streamed call as OpenAI-style chunks, the last carrying usage; raises ProviderError."""

    @abstractmethod
    def error_from_wire(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        """Classify a non-2xx answer in this wire format."""

    def request(self, url: str, headers: dict[str, str], content: bytes) -> httpx.Request:
        """A POST built directly (not through the client's merging), with the client's timeouts."""
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) > 4096:
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        return httpx.Request("POST", parsed, headers=headers, content=content, extensions=self._extensions)

    async def open_stream(self, url: str, headers: dict[str, str], content: bytes) -> httpx.Response:
        """POST for a streamed answer; the caller reads and closes the response. On the transport's
        own connections when the client runs over FastTransport, else through the client."""
        request = self.request(url, headers, content)
        if self._fast is not None:
            return await self._fast.open_stream(request, url, headers, content, timeouts=self._fast_timeout)
        return await self.client.send(request, stream=True)

    async def post(self, url: str, headers: dict[str, str], content: bytes) -> bytes:
        """POST and return the 2xx body (size-capped); anything else raises a classified ProviderError."""
        status: int
        received: Mapping[str, str]
        try:
            if self._fast is not None:
                reply = await self._fast.post(url, headers, content, timeouts=self._fast_timeout,
                                              cap=MAX_RESPONSE_BYTES)
                status, received, body = reply.status_code, reply.headers, reply.body
            else:
                response = await self.client.send(self.request(url, headers, content), stream=True)
                try:
                    body = await read_capped(response)
                finally:
                    await response.aclose()
                status, received = response.status_code, response.headers
        except httpx.TransportError as exc:
            raise classify_transport(exc) from exc
        if status >= 300:
            raise self.key_outcome(headers.values(), self.error_from_wire(status, received, body))
        self.keys.advance()
        return body

    def key_outcome(self, sent: Iterable[str], error: ProviderError) -> ProviderError:
        """Tell the key ring what the key in `sent` got (refused: set aside; 429: rest), then the error."""
        if error.error_class is ErrorClass.AUTH:
            self.keys.refused(sent, error.status_code)
        elif error.error_class is ErrorClass.RATE_LIMITED:
            self.keys.rate_limited(sent, error.retry_after_s)
        else:
            self.keys.advance()
        return error

    async def raise_for_stream(self, response: httpx.Response) -> None:
        """Turn a non-2xx streamed answer into its classified error."""
        if response.status_code >= 300:
            try:
                body = await read_capped(response)
            except httpx.TransportError as exc:
                raise classify_transport(exc) from exc
            raise self.key_outcome(response.request.headers.values(),
                                   self.error_from_wire(response.status_code, response.headers, body))
        self.keys.advance()


async def read_capped(response: httpx.Response, cap: int = MAX_RESPONSE_BYTES) -> bytes:
    """The body, refusing replies over `cap` bytes (provider replies are untrusted)."""
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise ProviderError(ErrorClass.INVALID_RESPONSE, f"response of {declared} bytes over the cap")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > cap:
            raise ProviderError(ErrorClass.INVALID_RESPONSE, f"response over {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def json_body(body: object) -> bytes:
    return orjson.dumps(body)


def error_text(body: bytes) -> tuple[str, str | None]:
    """An error body's message and code, in the shapes of OpenAI, Anthropic, Gemini, Cohere and AWS."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:200].decode("utf-8", "replace").strip(), None
    if not isinstance(data, dict):
        return "", None
    err = data.get("error")
    if isinstance(err, dict):
        code = next((v for v in (err.get("code"), err.get("status"), err.get("type"))
                     if isinstance(v, str) and v), None)
        return str(err.get("message") or ""), code
    if isinstance(err, str):
        return err, None
    message = data.get("message") or data.get("Message") or data.get("detail") or ""
    code = data.get("code") or data.get("type") or data.get("__type")
    return str(message), None if code is None else str(code)
