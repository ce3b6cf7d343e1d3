"""The merchant console: static pages served by the API at `/console/`.

The pages are plain ES modules bundled with esbuild (`make console` rebuilds them from
`console/`); the built files are committed under `static/` so that serving needs no node.
Everything the pages need comes from this origin: the Content-Security-Policy forbids any
other source, so nothing can be loaded from a CDN.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
ASSETS = ("app.js", "app.css")

# blob:/data: for the camera preview and inline SVG icons; camera access stays with this origin
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

router = APIRouter(include_in_schema=False)


@lru_cache
def index_html() -> str:
    """index.html with the assets' content hash in their URLs, so a new build is never stale."""
    digest = hashlib.sha256()
    for name in ASSETS:
        digest.update((STATIC_DIR / "assets" / name).read_bytes())
    return (
        (STATIC_DIR / "index.html")
        .read_text(encoding="utf-8")
        .replace("__VERSION__", digest.hexdigest()[:12])
    )


@router.get("/console")
async def console_root() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=308)


@router.get("/console/", response_class=HTMLResponse)
async def console_index() -> HTMLResponse:
    return HTMLResponse(
        index_html(),
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
        },
    )


def mount_console(app: FastAPI) -> None:
    app.include_router(router)
    app.mount(
        "/console/assets", StaticFiles(directory=STATIC_DIR / "assets"), name="console-assets"
    )
