"""`GET /metrics`: every metric in the Prometheus text format (no key needed)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from app.metrics import exposition

router = APIRouter(tags=["system"])


@router.get("/metrics", summary="Prometheus metrics (summed over every uvicorn worker)",
            response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
async def metrics() -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)
