"""Bedrock Converse and ConverseStream, signed with botocore's SigV4 over its credential chain
(environment, profile, instance role): the optional `bedrock` extra. Never a hand-rolled signature."""

from __future__ import annotations

import asyncio
import importlib.util
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from types import ModuleType
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
from app.providers.errors import ErrorClass, ProviderError, classify_status, classify_transport
from app.providers.sse import ended_early

# The optional `bedrock` extra. botocore (with urllib3 and dateutil: ~130 modules, ~0.1 s) is
# imported at the first signed request, or to resolve a credential chain, not at start-up.
HAVE_BOTOCORE = importlib.util.find_spec("botocore") is not None
BOTOCORE_MODULES = ("auth", "awsrequest", "credentials", "eventstream", "exceptions", "session")
_botocore: ModuleType | None = None

SIGNING_NAME = "bedrock"
AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
HOST_REGION = re.compile(r"bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com")
FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
          "guardrail_intervened": "content_filter", "content_filtered": "content_filter"}
# AWS error types whose HTTP status alone would mislead the failure table.
ERROR_TYPES = {"ThrottlingException": 429, "ServiceQuotaExceededException": 429,
               "ModelNotReadyException": 503, "ModelTimeoutException": 408,
               "UnrecognizedClientException": 401, "ExpiredTokenException": 401,
               "AccessDeniedException": 403, "InvalidSignatureException": 403}
STREAM_EXCEPTIONS = {"throttlingException": 429, "serviceUnavailableException": 503,
                     "internalServerException": 500, "modelStreamErrorException": 500,
                     "validationException": 400}
IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}


# --- wire models -------------------------------------------------------------------------------

class WireModel(BaseModel):
    model_config = {"extra": "ignore"}


class WireUsage(WireModel):
    inputTokens: int | None = None
    outputTokens: int | None = None
    cacheReadInputTokens: int | None = None
    cacheWriteInputTokens: int | None = None


class WireBlock(WireModel):
    text: str | None = None


class WireMessage(WireModel):
    content: list[WireBlock] = []


class WireOutput(WireModel):
    message: WireMessage


class WireResponse(WireModel):
    output: WireOutput
    stopReason: str | None = None
    usage: WireUsage | None = None


class WireDelta(WireModel):
    text: str | None = None


class WireEvent(WireModel):
    delta: WireDelta | None = None
    stopReason: str | None = None
    usage: WireUsage | None = None


# --- pure converters ---------------------------------------------------------------------------

def _block(part: Any) -> dict[str, Any]:
    if not isinstance(part, ImagePart):
        return {"text": part.text}
    fmt = IMAGE_FORMATS.get(part.media_type or "")
    if part.data is None or fmt is None:
        raise ProviderError(ErrorClass.BAD_REQUEST, "Bedrock takes inline png, jpeg, gif or webp images only",
                            status_code=400)
    return {"image": {"format": fmt, "source": {"bytes": part.data}}}


def to_wire(request: ChatRequest) -> dict[str, Any]:
    """The Converse body (the model is in the URL); system apart, every turn a list of blocks."""
    body: dict[str, Any] = {
        "messages": [{"role": t.role, "content": [_block(p) for p in t.parts]} for t in request.turns],
    }
    if request.system:
        body["system"] = [{"text": request.system}]
    config: dict[str, Any] = {}
    if request.max_tokens is not None:
        config["maxTokens"] = request.max_tokens
    if request.temperature is not None:
        config["temperature"] = min(request.temperature, 1.0)
    if config:
        body["inferenceConfig"] = config
    return body


def usage_from_wire(usage: WireUsage | None) -> Usage | None:
    """inputTokens leaves out cache reads and writes: together they are the prompt."""
    if usage is None or usage.inputTokens is None or usage.outputTokens is None:
        return None
    read = usage.cacheReadInputTokens or 0
    total_in = usage.inputTokens + read + (usage.cacheWriteInputTokens or 0)
    return bounded_usage(total_in, usage.outputTokens, read)


def from_wire(body: bytes) -> Completion:
    try:
        wire = WireResponse.model_validate_json(body)
    except ValidationError as exc:
        msg = f"not a Converse response: {exc.errors()[0]['msg']}"
        raise ProviderError(ErrorClass.INVALID_RESPONSE, msg) from exc
    text = "".join(b.text or "" for b in wire.output.message.content)
    reason = wire.stopReason
    return Completion(content=text, usage=usage_from_wire(wire.usage),
                      finish_reason=FINISH.get(reason or "", reason))


def event_from_wire(headers: Mapping[str, Any], payload: bytes) -> tuple[ChatChunk | None, str | None]:
    """One eventstream message: (chunk or None, its event type); exceptions raise."""
    kind = headers.get(":message-type")
    if kind == "exception":
        name = str(headers.get(":exception-type", "internalServerException"))
        reason, _ = error_text(payload)
        raise classify_status(STREAM_EXCEPTIONS.get(name, 500), {}, reason, provider_code=name)
    if kind == "error":
        raise classify_status(500, {}, str(headers.get(":error-message", "")),
                              provider_code=str(headers.get(":error-code", "")))
    event_type = headers.get(":event-type")
    try:
        event = WireEvent.model_validate_json(payload or b"{}")
    except ValidationError as exc:
        raise ProviderError(ErrorClass.INVALID_RESPONSE, "not a ConverseStream event") from exc
    if event_type == "contentBlockDelta" and event.delta and event.delta.text:
        return ChatChunk(text=event.delta.text), event_type
    if event_type == "messageStop":
        return ChatChunk(finish_reason=FINISH.get(event.stopReason or "", event.stopReason)), event_type
    if event_type == "metadata":
        return ChatChunk(usage=usage_from_wire(event.usage)), event_type
    return None, str(event_type)


# --- error classification ----------------------------------------------------------------------

def error_from_wire(status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    """{"message"} with the type in `x-amzn-ErrorType` (`ThrottlingException:http://…`)."""
    reason, code = error_text(body)
    code = (headers.get("x-amzn-errortype") or code or "").split(":")[0] or None
    return classify_status(ERROR_TYPES.get(code or "", status), headers, reason, provider_code=code)


def region_of(target: Target, base_url: str) -> str:
    """The signing region: the deployment's name, else the endpoint's host, else us-east-1."""
    if AWS_REGION.match(target.deployment):
        return target.deployment
    match = HOST_REGION.search(base_url)
    return match[1] if match else "us-east-1"


# --- I/O ---------------------------------------------------------------------------------------

def _import_botocore() -> ModuleType:
    for name in BOTOCORE_MODULES:
        importlib.import_module(f"botocore.{name}")
    return importlib.import_module("botocore")


async def botocore_modules() -> ModuleType:
    """botocore with the submodules the adapter uses, imported once, off the event loop."""
    global _botocore
    if _botocore is None:
        # concurrent first callers both import: the import system's module locks serialise them
        _botocore = await asyncio.to_thread(_import_botocore)
    return _botocore


@dataclass(frozen=True)
class StaticCredentials:
    """Keys from the environment, with the fields of botocore's ReadOnlyCredentials that SigV4 reads."""

    access_key: str
    secret_key: str
    token: str | None

    def get_frozen_credentials(self) -> StaticCredentials:
        return self


class BedrockConverseAdapter(ProviderAdapter):
    """POST {base_url}/model/{modelId}/converse (and /converse-stream), SigV4-signed."""

    protocol = "bedrock"

    def __init__(
        self, name: str, spec: ProviderSpec, client: httpx.AsyncClient, environ: Mapping[str, str]
    ) -> None:
        super().__init__(name, spec, client, environ)
        self.environ = environ
        self.credentials: Any = None

    def unavailable(self) -> ProviderError | None:
        if not HAVE_BOTOCORE:
            return ProviderError(ErrorClass.MISSING_EXTRA,
                                 "Bedrock needs the `bedrock` extra: pip install 'smart-llm-router[bedrock]'")
        if self.credentials is None:
            return ProviderError(ErrorClass.NO_KEY,
                                 "no AWS credentials (environment, profile or instance role)")
        return None

    async def prepare(self) -> None:
        """Resolve botocore's credential chain once, off the event loop (it may ask the instance)."""
        if not HAVE_BOTOCORE:
            return
        access, secret = self.environ.get("AWS_ACCESS_KEY_ID"), self.environ.get("AWS_SECRET_ACCESS_KEY")
        if access and secret:
            token = self.environ.get("AWS_SESSION_TOKEN") or None
            self.credentials = StaticCredentials(access, secret, token)
            return
        botocore = await botocore_modules()
        try:
            self.credentials = await asyncio.to_thread(lambda: botocore.session.Session().get_credentials())
        except botocore.exceptions.BotoCoreError:
            self.credentials = None

    def error_from_wire(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        return error_from_wire(status, headers, body)

    def url(self, target: Target, operation: str) -> str:
        return f"{target.base_url}/model/{quote(target.upstream_model, safe='')}/{operation}"

    async def signed_headers(self, target: Target, url: str, body: bytes) -> dict[str, str]:
        botocore = await botocore_modules()
        creds = self.credentials
        if isinstance(creds, botocore.credentials.RefreshableCredentials):
            frozen = await asyncio.to_thread(creds.get_frozen_credentials)
        else:
            frozen = creds.get_frozen_credentials()
        request = botocore.awsrequest.AWSRequest(method="POST", url=url, data=body,
                                                 headers={"content-type": "application/json"})
        region = region_of(target, str(self.spec.base_url))
        botocore.auth.SigV4Auth(frozen, SIGNING_NAME, region).add_auth(request)
        return dict(request.headers.items())

    async def complete(self, target: Target, request: ChatRequest) -> Completion:
        body = orjson.dumps(to_wire(request))
        url = self.url(target, "converse")
        return from_wire(await self.post(url, await self.signed_headers(target, url, body), body))

    async def stream(self, target: Target, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        body = orjson.dumps(to_wire(request))
        url = self.url(target, "converse-stream")
        headers = await self.signed_headers(target, url, body)
        botocore = await botocore_modules()
        buffer = botocore.eventstream.EventStreamBuffer()
        stopped = False
        try:
            response = await self.open_stream(url, headers, body)
            try:
                await self.raise_for_stream(response)
                async for data in response.aiter_bytes():
                    buffer.add_data(data)
                    for message in buffer:
                        chunk, event_type = event_from_wire(message.headers, message.payload)
                        if chunk is not None:
                            yield chunk
                        stopped = stopped or event_type == "messageStop"
                        if event_type == "metadata":
                            return
            finally:
                await response.aclose()
        except httpx.TransportError as exc:
            raise classify_transport(exc) from exc
        except botocore.eventstream.ParserError as exc:
            raise ProviderError(ErrorClass.INVALID_RESPONSE, f"bad eventstream frame: {exc}") from exc
        if not stopped:
            raise ended_early()
