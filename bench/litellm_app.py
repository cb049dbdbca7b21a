"""LiteLLM's Router behind a minimal FastAPI /v1/chat/completions, in front of the provider simulator:
the same three OpenAI-compatible deployments our service falls back along, with fallbacks configured.

Env: LITELLM_BENCH_SIMULATOR (the simulator's URL). Started by bench/bench_litellm.py under uvicorn.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

# (model group, LiteLLM model, simulated base URL path)
DEPLOYMENTS = [
    ("primary", "openai/gpt-4o-mini", "/openai/v1"),
    ("fallback-1", "openai/mistral-small-latest", "/mistral/v1"),
    ("fallback-2", "openai/deepseek-chat", "/deepseek"),
]


def create_litellm_app() -> FastAPI:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm
    from litellm.router import Router

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    simulator = os.environ["LITELLM_BENCH_SIMULATOR"]
    router = Router(
        model_list=[{"model_name": group, "litellm_params": {
            "model": model, "api_base": simulator + path, "api_key": "bench-key"}}
            for group, model, path in DEPLOYMENTS],
        fallbacks=[{"primary": ["fallback-1", "fallback-2"]}],
        num_retries=0,
        timeout=30,
    )
    app = FastAPI()

    @app.get("/health")
    async def health() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> Response:
        body: dict[str, Any] = await request.json()
        try:
            reply = await router.acompletion(model="primary", messages=body["messages"],
                                             max_tokens=body.get("max_tokens"))
        except Exception as exc:  # every failure is a 502 to the client, as a gateway would answer
            return JSONResponse({"error": {"message": str(exc)[:300]}}, status_code=502)
        return JSONResponse(reply.model_dump())

    return app
