"""The console's ASGI app: the page modules' routers, the static files, the error pages.

A page module (``console/pages/*.py``) holds a ``router`` made by
``context.page_router()`` and, for an entry in the navigation, ``NAV`` (a ``NavItem``); it is
listed once in ``PAGES`` below. Its templates live in ``console/templates/<module>/`` and extend
``base.html``.
"""

from __future__ import annotations

from types import ModuleType

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

from lorafox.api.context import ApiContext
from lorafox.console.context import ConsoleContext
from lorafox.console.errors import error_page, lorafox_error
from lorafox.console.pages import (
    alerts,
    api_users,
    callbacks,
    device,
    device_import,
    device_types,
    devices,
    groups,
    login,
    lora_integrations,
    problems,
    rules,
    tables,
    users,
)
from lorafox.console.templating import STATIC_DIR, NavItem, Templates
from lorafox.errors import LorafoxError
from lorafox.identity.sessions import ConsoleSessions
from lorafox.settings import ConsoleSettings

__all__ = ["PAGES", "create_console"]

PAGES: tuple[ModuleType, ...] = (
    login,
    devices,
    device_import,
    device,
    device_types,
    callbacks,
    rules,
    problems,
    lora_integrations,
    alerts,
    groups,
    users,
    api_users,
    tables,
)
"""The page modules, in the order their routes are tried."""


def create_console(
    api: ApiContext, sessions: ConsoleSessions, settings: ConsoleSettings
) -> FastAPI:
    """The app serving ``/console`` and below (the HTTP app sends those paths to it)."""
    templates = Templates(tile_url=settings.tile_url)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.console = ConsoleContext(api, sessions, settings, templates)
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")

    @app.get("/console", include_in_schema=False)
    @app.get("/console/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/console/devices", status_code=303)

    for module in PAGES:
        app.include_router(module.router)
        nav = getattr(module, "NAV", None)
        if isinstance(nav, NavItem):
            templates.add_nav(nav)

    @app.exception_handler(LorafoxError)
    async def _lorafox(request: Request, exc: LorafoxError) -> Response:
        return lorafox_error(templates, request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:])
        message = str(first.get("msg", "invalid request"))
        return error_page(templates, request, 400, f"{where}: {message}" if where else message)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        message = "There is no such page." if exc.status_code == 404 else str(exc.detail)
        return error_page(templates, request, exc.status_code, message)

    return app
