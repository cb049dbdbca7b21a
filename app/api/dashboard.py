"""`GET /dashboard`: the analytics page (provider health, cost analysis, a timeline), static files."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import FileResponse, Response

from app.dashboard import STATIC_DIR

router = APIRouter(tags=["dashboard"])


@router.get("/dashboard", include_in_schema=False)
async def dashboard() -> Response:
    """The page; its script reads /api/brain/ai-assistant/analytics/* and refreshes every 30 s."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")


def install(app: FastAPI) -> None:
    """Mount the page and its static files (the vendored chart library included)."""
    app.include_router(router)
    app.mount("/dashboard/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static")
