"""Gemini generateContent: gemini (AI Studio, `x-goog-api-key`) and vertex_ai (regional endpoint,
OAuth bearer token from VERTEX_AI_ACCESS_TOKEN or google-auth's application default credentials)."""

from __future__ import annotations

import asyncio
import importlib.util
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any
from urllib.parse import quote

import httpx
import orjson
from pydantic import BaseModel, ValidationError

from app.config.catalog import ProviderSpec
from app.providers.base import (
    ChatChunk,
    ChatRequest,
    Completion,
    ImagePart,
    ProviderAdapter,
    Target,
    Usage,
    bounded_usage,
    error_text,
)
from app.providers.errors import ErrorClass, ProviderError, classify_status
from app.providers.sse import ended_early, sse_events

# The optional `vertex` extra, imported only when application default credentials are used
# (google-auth with requests and cryptography costs ~15 MiB).
HAVE_GOOGLE_AUTH = all(importlib.util.find_spec(m) is not None for m in ("google", "google.auth"))

FINISH = {"STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter", "RECITATION": "content_filter",
          "BLOCKLIST": "content_filter", "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter"}
CLOUD_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
RETRY_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")


# --- wire models -------------------------------------------------------------------------------

class WireModel(BaseModel):
    model_config = {"extra": "ignore"}


class WirePart(WireModel):
    text: str | None = None
    thought: bool | None = None


class WireContent(WireModel):
    parts: list[WirePart] = []


class WireCandidate(WireModel):
    content: WireContent | None = None
    finishReason: str | None = None


class WireUsage(WireModel):
    promptTokenCount: int | None = None
    candidatesTokenCount: int | None = None
    cachedContentTokenCount: int | None = None
    thoughtsTokenCount: int | None = None


class WireFeedback(WireModel):
    blockReason: str | None = None


class WireResponse(WireModel):
    candidates: list[WireCandidate] = []
    usageMetadata: WireUsage | None = None
    promptFeedback: WireFeedback | None = None
    responseId: str | None = None


# --- pure converters ---------------------------------------------------------------------------

def _part(part: Any) -> dict[str, Any]:
    if not isinstance(part, ImagePart):
        return {"text": part.text}
    if part.data is not None:
        return {"inlineData": {"mimeType": part.media_type, "data": part.data}}
    return {"fileData": {"mimeType": "image/*", "fileUri": part.url}}


def to_wire(request: ChatRequest) -> dict[str, Any]:
    """The generateContent body (the model is in the URL); the assistant's role is `model`."""
    body: dict[str, Any] = {
        "contents": [
            {"role": "model" if t.role == "assistant" else "user", "parts": [_part(p) for p in t.parts]}
            for t in request.turns
        ],
    }
    if request.system:
        body["systemInstruction"] = {"parts": [{"text": request.system}]}
    config: dict[str, Any] = {}
    if request.max_tokens is not None:
        config["maxOutputTokens"] = request.max_tokens
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if config:
        body["generationConfig"] = config
    return body


def usage_from_wire(usage: WireUsage | None) -> Usage | None:
    """Thoughts are billed as output: output = candidates + thoughts."""
    if usage is None or usage.promptTokenCount is None:
        return None
    thoughts = usage.thoughtsTokenCount or 0
    return bounded_usage(usage.promptTokenCount, (usage.candidatesTokenCount or 0) + thoughts,
                         usage.cachedContentTokenCount or 0, thoughts)


def parse(body: bytes | str) -> WireResponse:
    try:
        wire = WireResponse.model_validate_json(body)
    except ValidationError as exc:
        raise ProviderError(ErrorClass.INVALID_RESPONSE, "not a GenerateContentResponse") from exc
    if not wire.candidates and wire.promptFeedback and wire.promptFeedback.blockReason:
        raise ProviderError(ErrorClass.BAD_REQUEST, f"prompt blocked: {wire.promptFeedback.blockReason}",
                            status_code=400, provider_code=wire.promptFeedback.blockReason)
    return wire


def _text(candidate: WireCandidate) -> str:
    parts = candidate.content.parts if candidate.content else []
    return "".join(p.text or "" for p in parts if not p.thought)


def from_wire(body: bytes) -> Completion:
    wire = parse(body)
    if not wire.candidates:
        raise ProviderError(ErrorClass.INVALID_RESPONSE, "GenerateContentResponse without candidates")
    first = wire.candidates[0]
    reason = first.finishReason
    return Completion(content=_text(first), usage=usage_from_wire(wire.usageMetadata),
                      finish_reason=FINISH.get(reason or "", reason and reason.lower()),
                      response_id=wire.responseId)


def chunk_from_wire(data: str) -> ChatChunk:
    """Each event is a whole GenerateContentResponse; the last has finishReason and the usage."""
    wire = parse(data)
    first = wire.candidates[0] if wire.candidates else None
    reason = first.finishReason if first else None
    return ChatChunk(text=_text(first) if first else "",
                     finish_reason=FINISH.get(reason or "", reason and reason.lower()),
                     usage=usage_from_wire(wire.usageMetadata) if reason else None)


# --- error classification ----------------------------------------------------------------------

def error_from_wire(status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    """{"error": {"code", "message", "status", "details"}}; a 429 may carry RetryInfo.retryDelay."""
    reason, code = error_text(body)
    err = classify_status(status, headers, reason, provider_code=code)
    if err.error_class is ErrorClass.RATE_LIMITED and err.retry_after_s is None:
        err.retry_after_s = _retry_delay(body)
    return err


def _retry_delay(body: bytes) -> float | None:
    try:
        details = orjson.loads(body)["error"]["details"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    for item in details if isinstance(details, list) else ():
        delay = item.get("retryDelay") if isinstance(item, dict) else None
        match = RETRY_DELAY.match(delay) if isinstance(delay, str) else None
        if match:
            return float(match[1])
    return None


# --- I/O ---------------------------------------------------------------------------------------

class GeminiAdapter(ProviderAdapter):
    """POST {base_url}/v1/models/{model}:generateContent with `x-goog-api-key` (the SDK's default version)."""

    protocol = "gemini"

    def url(self, target: Target, method: str) -> str:
        return f"{target.base_url}/v1/models/{quote(target.upstream_model, safe='')}:{method}"

    async def headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.key or "", "content-type": "application/json"}

    def error_from_wire(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        return error_from_wire(status, headers, body)

    async def complete(self, target: Target, request: ChatRequest) -> Completion:
        body = orjson.dumps(to_wire(request))
        url = self.url(target, "generateContent")
        return from_wire(await self.post(url, await self.headers(), body))

    async def stream(self, target: Target, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        body = orjson.dumps(to_wire(request))
        url = self.url(target, "streamGenerateContent") + "?alt=sse"
        async with aclosing(sse_events(self, url, await self.headers(), body)) as events:
            async for event in events:
                if not event.data:
                    continue
                chunk = chunk_from_wire(event.data)
                yield chunk
                if chunk.finish_reason:
                    return
        raise ended_early()


class VertexAIAdapter(GeminiAdapter):
    """POST {regional base}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:…
    with a bearer token; the catalog deployment names the location (`global` for the default one)."""

    def __init__(
        self, name: str, spec: ProviderSpec, client: httpx.AsyncClient, environ: Mapping[str, str]
    ) -> None:
        super().__init__(name, spec, client, environ)
        self.project = environ.get("VERTEX_AI_PROJECT") or environ.get("GOOGLE_CLOUD_PROJECT") or None
        self.use_adc = not self.key and bool(self.project or environ.get("GOOGLE_APPLICATION_CREDENTIALS"))
        self.adc: Any = None
        self.refresh_lock = asyncio.Lock()

    def unavailable(self) -> ProviderError | None:
        if self.key or self.adc is not None:
            if not self.project:
                return ProviderError(ErrorClass.NO_KEY,
                                     "VERTEX_AI_PROJECT (or GOOGLE_CLOUD_PROJECT) is not set")
            return None
        if self.use_adc and not HAVE_GOOGLE_AUTH:
            return ProviderError(ErrorClass.MISSING_EXTRA,
                                 "application default credentials need the `vertex` extra (google-auth)")
        return ProviderError(ErrorClass.NO_KEY, f"neither {self.spec.api_key_env} nor application default "
                                                "credentials are available")

    async def prepare(self) -> None:
        """Look up application default credentials once, off the event loop."""
        if not self.use_adc or not HAVE_GOOGLE_AUTH:
            return
        import google.auth

        try:
            creds, project = await asyncio.to_thread(google.auth.default, scopes=[CLOUD_SCOPE])
        except google.auth.exceptions.GoogleAuthError:
            return
        self.adc = creds
        self.project = self.project or project

    async def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {await self.token()}", "content-type": "application/json"}

    async def token(self) -> str:
        if self.key:
            return self.key
        async with self.refresh_lock:
            if not self.adc.valid:
                import google.auth.exceptions
                import google.auth.transport.requests

                request = google.auth.transport.requests.Request()
                try:
                    await asyncio.to_thread(self.adc.refresh, request)
                except google.auth.exceptions.GoogleAuthError as exc:
                    raise ProviderError(ErrorClass.AUTH, "could not refresh the Google access token") from exc
        return str(self.adc.token)

    def url(self, target: Target, method: str) -> str:
        location = "global" if target.deployment == "default" else target.deployment
        return (f"{target.base_url}/v1/projects/{self.project}/locations/{location}/publishers/google/"
                f"models/{quote(target.upstream_model, safe='')}:{method}")
