"""The role pages (services/api/pages): the agent's, the team manager's and the operations director's.

The pages hold no figures: each is a template given its subject (``data-scope``) and the way back to the API's
root (``data-root``, relative, so a path prefix in front of the API works), and reads the figures from ``/v1/``
with the token the user gave it (docs/pages.md). Their scripts, styles and the chart library are files under
``/pages/``: nothing comes from another host. So is ``/docs``, the OpenAPI description in Swagger UI.
"""

from __future__ import annotations

from functools import cache
from html import escape
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from services.api.reach import rule

PAGES = Path(__file__).resolve().parents[1] / "pages"

# Open: a page holds no figures, only its subject from the URL; its figures come from /v1 with the token.
router = APIRouter(include_in_schema=False)


@cache
def _template(name: str) -> str:
    return (PAGES / f"{name}.html").read_text(encoding="utf-8")


def render(name: str, scope: str, request: Request) -> HTMLResponse:
    """The page ``name`` for ``scope``; its relative way back to the root from the path as the browser sent it."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    root = "../" * (raw.split(b"?", 1)[0].count(b"/") - 1)
    html = _template(name).replace("{{root}}", escape(root)).replace("{{scope}}", escape(scope))
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})


@router.get("/agent/{platform}/{agent_id:path}", openapi_extra=rule("open"))
async def agent_page(platform: str, agent_id: str, request: Request) -> HTMLResponse:
    return render("agent", f"agent/{platform}/{agent_id}", request)


@router.get("/team/{platform}/{queue_id:path}", openapi_extra=rule("open"))
async def team_page(platform: str, queue_id: str, request: Request) -> HTMLResponse:
    return render("team", f"queue/{platform}/{queue_id}", request)


@router.get("/director", openapi_extra=rule("open"))
async def director_page(request: Request) -> HTMLResponse:
    return render("director", "all", request)


def docs_router(openapi_url: str, title: str) -> APIRouter:
    """``/docs``: Swagger UI from the project's own copy (pages/vendor/swagger-ui, its version in docs/pages.md)."""
    docs = APIRouter(include_in_schema=False)
    vendor = "pages/vendor/swagger-ui"

    @docs.get("/docs", openapi_extra=rule("open"))
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url.lstrip("/"),  # relative, like every page: a path prefix in front works
            title=f"{title} · docs",
            swagger_js_url=f"{vendor}/swagger-ui-bundle.js",
            swagger_css_url=f"{vendor}/swagger-ui.css",
            swagger_favicon_url=f"{vendor}/favicon-32x32.png",
        )

    return docs
