"""`POST /v1/chat/completions` and `GET /v1/models`: the OpenAI API, routed (any OpenAI SDK works
by changing its base URL). Errors leave in OpenAI's shape, not the service envelope."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from app.api.answer import AnsweredResponse
from app.api.body import json_body
from app.api.deps import context_of
from app.api.errors import json_response
from app.errors import PayloadTooLarge, RouterError
from app.openai_compat import service
from app.openai_compat.errors import router_error_response, validation_error_response
from app.openai_compat.hints import hint_headers
from app.openai_compat.listing import model_list
from app.openai_compat.sse import EventStreamResponse
from app.openai_compat.wire import ChatCompletionRequest

router = APIRouter(prefix="/v1", tags=["openai"])

# OpenAI's error shape; the auth and load-shedding middleware answer in the service envelope,
# which shares `message` and `code`, so this schema holds for both.
ERROR = {"application/json": {"schema": {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["message", "code"], "properties": {
        "message": {"type": "string"}, "type": {"type": "string"},
        "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]},
        "details": {"type": "object"}}}},
}}}
COMPLETION = {"type": "object", "required": ["id", "object", "created", "model", "choices", "usage"],
              "properties": {"id": {"type": "string"}, "object": {"const": "chat.completion"},
                             "created": {"type": "integer"}, "model": {"type": "string"},
                             "choices": {"type": "array"}, "usage": {"type": "object"},
                             "router": {"type": "object"}}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "A `chat.completion`; with `stream: true` a `text/event-stream` of "
                         "`chat.completion.chunk` events ending in `data: [DONE]` (or in an "
                         "`{\"error\": ...}` event when the provider fails mid-stream)",
          "content": {"application/json": {"schema": COMPLETION},
                      "text/event-stream": {"schema": {"type": "string"}}}},
    400: {"description": "`invalid_request_error`: a bad field (`param` names it), unsupported "
                         "options (n > 1, tools), or no model meets the constraints", "content": ERROR},
    402: {"description": "`budget_exceeded`: the tenant's hard budget would be overspent", "content": ERROR},
    404: {"description": "`model_not_found`: `model` is neither `auto` nor a `provider/model` id",
          "content": ERROR},
    413: {"description": "The body is over the size cap", "content": ERROR},
    429: {"description": "`rate_limited`: the tenant's tokens or requests per minute", "content": ERROR},
    502: {"description": "Every provider in the chain failed before answering", "content": ERROR},
    503: {"description": "Overloaded, or keys cannot be verified right now", "content": ERROR},
}
MODEL_LIST = {"type": "object", "required": ["object", "data"],
              "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": {
                  "type": "object", "required": ["id", "object", "owned_by"]}}}}
MODELS: dict[int | str, dict[str, Any]] = {
    200: {"description": "`auto` and every catalog model",
          "content": {"application/json": {"schema": MODEL_LIST}}}}


@router.post("/chat/completions", summary="OpenAI-compatible chat completions, routed",
             responses=RESPONSES, openapi_extra=json_body(ChatCompletionRequest))
async def chat_completions(request: Request) -> Response:
    """`model: "auto"` routes with hints (extra body fields or X-Router-* headers); `provider/model` pins."""
    ctx = context_of(request)
    try:
        body = ChatCompletionRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        return validation_error_response(exc)
    except HTTPException as exc:  # the body cap, raised while reading
        return router_error_response(PayloadTooLarge(str(exc.detail)))
    prep = None
    try:
        prep = await service.prepare(ctx, body, hint_headers(request.scope["headers"]))
        if body.stream:
            relay = await service.open_stream(ctx, prep)
            return EventStreamResponse(relay.events(), headers={**prep.headers(), **relay.headers()},
                                       on_close=relay.aclose)
        result, bookkeeping = await service.complete(ctx, prep)
    except RouterError as exc:
        return router_error_response(exc, prep.headers() if prep is not None else None)
    return AnsweredResponse(service.answer(prep, result), {
        **prep.headers(), "x-router-provider": result.provider, "x-router-model": result.model},
        bookkeeping)


@router.get("/models", summary="`auto` and every catalog model as `provider/model`", responses=MODELS)
async def list_models(request: Request) -> Response:
    """The OpenAI model list; pass an `id` as `model` to pin it."""
    ctx = context_of(request)
    return json_response(model_list(ctx.catalog, ctx.keyed_providers))
