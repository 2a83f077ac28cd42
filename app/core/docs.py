"""The OpenAPI explorer at ``/docs``, served entirely by the app (Swagger UI from ``swagger-ui-bundle``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from swagger_ui_bundle import swagger_ui_path

from app.core.errors import NotFound

router = APIRouter(include_in_schema=False)

ASSETS = {
    "swagger-ui-bundle.js": "application/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    """Swagger UI for the API."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="BlogItEarnIt API",
        swagger_js_url="/docs/assets/swagger-ui-bundle.js",
        swagger_css_url="/docs/assets/swagger-ui.css",
        swagger_favicon_url="/docs/assets/favicon-32x32.png",
    )


@router.get("/docs/assets/{name}")
def docs_asset(name: str) -> FileResponse:
    """One of Swagger UI's own files (a fixed list: no path from the request reaches the disk)."""
    if name not in ASSETS:
        raise NotFound("file", name)
    return FileResponse(
        str(swagger_ui_path / name),
        media_type=ASSETS[name],
        headers={"Cache-Control": "public, max-age=86400"},
    )
