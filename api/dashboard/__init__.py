"""The operator dashboard: static pages at `/dashboard` (plain HTML, JS and CSS, nothing to
build, nothing loaded from elsewhere) and the summary route they read, under `/v1`."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import FileResponse

from api.dashboard.routes import router as summary_router

STATIC = Path(__file__).parent
FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "chart.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
# Scripts and styles from this origin only, no inline code, calls to this API only.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}  # fmt: skip

pages = APIRouter(include_in_schema=False)


def _file(name: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type=FILES[name], headers=HEADERS)


@pages.get("/dashboard")
@pages.get("/dashboard/")
def dashboard_page() -> FileResponse:
    return _file("index.html")


@pages.get("/dashboard/{name}")
def dashboard_asset(name: str) -> FileResponse:
    """The page's scripts and style sheet: only the files in FILES."""
    if name not in FILES:
        raise HTTPException(404, f"no dashboard file {name!r}")
    return _file(name)


def mount(app: FastAPI) -> None:
    """Serve the dashboard pages and add `GET /v1/dashboard/summary` to `app`."""
    app.include_router(summary_router, prefix="/v1")
    app.include_router(pages)
