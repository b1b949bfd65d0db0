"""The HTTP application: Sigfox callbacks on a bare fast path, everything else on FastAPI."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from swagger_ui_bundle import swagger_ui_path

from lorafox import __version__
from lorafox.api import (
    alerts,
    api_users,
    device_messages,
    device_types,
    devices,
    events,
    groups,
    outgoing_callbacks,
    passwords,
    profiles,
    users,
)
from lorafox.api.asgi import ASGIApp, Receive, Scope, Send, limit_body, respond
from lorafox.api.callback_docs import complete_openapi
from lorafox.api.callbacks import CALLBACK_PATHS, SigfoxCallbacks
from lorafox.api.context import ApiContext, context, root_admin
from lorafox.api.dynamodb import is_dynamodb
from lorafox.api.errors import error_response
from lorafox.api.iot import is_iot
from lorafox.api.locations import router as locations_router
from lorafox.api.lora_http import router as lora_http_router
from lorafox.api.lora_integrations import router as lora_integrations_router
from lorafox.api.rate_limit import RateLimiter, rate_limited
from lorafox.api.rules import router as rules_router
from lorafox.api.statistics import router as statistics_router
from lorafox.errors import LorafoxError, PayloadTooLarge

__all__ = ["create_app"]


def _json_error(
    status: int,
    message: str,
    errors: list[dict[str, object]],
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse({"message": message, "errors": errors}, status_code=status, headers=headers)


_DOCS_ASSETS = "/api/docs/assets"
"""Swagger UI's files, from the swagger-ui-bundle package (Apache-2.0)."""

_NOT_AN_OBJECT = frozenset({"dict_type", "model_attributes_type", "model_type"})


def _validation_error(error: Mapping[str, Any]) -> dict[str, object]:
    """One of pydantic's errors as ``{"field", "message"}``: the field as a dotted path inside
    the body, query or path (``devices.0.id``), the message saying what was expected."""
    location = [str(part) for part in error.get("loc", ())]
    kind = error.get("type", "")
    if kind == "json_invalid":
        position = location[1] if len(location) > 1 else "?"
        reason = (error.get("ctx") or {}).get("error", "invalid JSON")
        return {
            "field": "",
            "message": f"body is not valid JSON: {reason} (at character {position})",
        }
    field = ".".join(location[1:])
    if location[:1] == ["body"] and not field and kind in _NOT_AN_OBJECT:
        return {
            "field": "",
            "message": "body: expected a JSON object (send it with Content-Type: application/json)",
        }
    return {"field": field or ".".join(location), "message": str(error.get("msg", "invalid"))}


def _api(ctx: ApiContext, api_rate_limit: float) -> FastAPI:
    api = FastAPI(
        title="lorafox",
        version=__version__,
        description="Sigfox API v2 compatible API (groups, users, API users, profiles, device "
        "types, devices and their messages), the downlink queue and service endpoints. HTTP "
        "Basic auth: an API user's id and password, or a user's email and password.",
        docs_url=None,  # served below from the package's own files: no CDN, works offline
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    api.mount(_DOCS_ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @api.get("/api/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/api/openapi.json",
            title="lorafox API",
            swagger_js_url=f"{_DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{_DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{_DOCS_ASSETS}/favicon-32x32.png",
        )

    api.state.lorafox = ctx
    api.state.rate_limiter = RateLimiter(api_rate_limit) if api_rate_limit > 0 else None

    @api.exception_handler(LorafoxError)
    async def _lorafox_error(_: Request, exc: LorafoxError) -> Response:
        status, headers, body = error_response(exc)
        return Response(
            body, status_code=status, headers={k.decode(): v.decode() for k, v in headers}
        )

    @api.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        errors = [_validation_error(e) for e in exc.errors()]
        first = errors[0] if errors else {"field": "", "message": "invalid request"}
        message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        return _json_error(400, str(message), errors)

    @api.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> Response:
        return _json_error(exc.status_code, str(exc.detail), [], exc.headers)

    @api.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/console")

    @api.get(
        "/healthz",
        tags=["service"],
        summary="Liveness and readiness (no authentication)",
        description="200 while the database answers (callbacks are then stored, whatever the "
        "broker's state, which is reported); 503 when it does not.",
    )
    async def healthz(ctx: Annotated[ApiContext, Depends(context)]) -> JSONResponse:
        try:
            await ctx.ping()
        except LorafoxError:
            return JSONResponse({"status": "unavailable", "database": "error", **ctx.health()}, 503)
        return JSONResponse({"status": "ok", "database": "ok", **ctx.health()})

    @api.get(
        "/metrics",
        tags=["service"],
        summary="Prometheus metrics (ADMIN of the root group)",
        dependencies=[Depends(root_admin)],
        response_class=Response,
    )
    async def metrics(ctx: Annotated[ApiContext, Depends(context)]) -> Response:
        return Response(ctx.metrics.render(), media_type="text/plain; version=0.0.4")

    limited = [Depends(rate_limited)]
    for module in (groups, users, api_users, profiles, device_types, devices, device_messages):
        api.include_router(module.router, dependencies=limited)
    api.include_router(device_messages.types_router, dependencies=limited)
    api.include_router(locations_router, dependencies=limited)
    api.include_router(statistics_router, dependencies=limited)
    api.include_router(events.router, dependencies=limited)
    api.include_router(events.types_router, dependencies=limited)
    api.include_router(outgoing_callbacks.router, dependencies=limited)
    api.include_router(rules_router, dependencies=limited)
    api.include_router(lora_integrations_router, dependencies=limited)
    api.include_router(lora_http_router)
    api.include_router(alerts.router, dependencies=limited)
    api.include_router(passwords.router)

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = complete_openapi(
                get_openapi(
                    title=api.title,
                    version=api.version,
                    description=api.description,
                    routes=api.routes,
                )
            )
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    return api


def _is_console(path: str) -> bool:
    return path == "/console" or path.startswith("/console/")


async def _too_large(send: Send, limit: int) -> None:
    status, headers, body = error_response(PayloadTooLarge(f"body larger than {limit} bytes"))
    await respond(send, status, [*headers, (b"connection", b"close")], body)


def create_app(
    ctx: ApiContext,
    callbacks: SigfoxCallbacks,
    dynamodb: ASGIApp | None = None,
    *,
    iot: ASGIApp | None = None,
    console: ASGIApp | None = None,
    api_rate_limit: float = 1000.0,
    api_max_body_bytes: int = 1024 * 1024,
) -> ASGIApp:
    """The ASGI app: ``/sigfox/uplink`` and ``/sigfox/bidir`` bypass FastAPI, and so does the
    DynamoDB JSON protocol (``POST /``, ``lorafox.api.dynamodb``) and the AWS IoT rule and
    publish API (``/rules``, ``/topics/…``, ``lorafox.api.iot``) when given; ``console`` gets
    ``/console`` and below (``lorafox.console``, its bodies bounded the same way).
    ``api_rate_limit``: requests a second per caller on ``/api/v2`` (``settings.api_rate_limit``,
    0: no limit); ``api_max_body_bytes``: the largest body FastAPI is given (413 before it, and
    before authentication, beyond it)."""
    api = limit_body(_api(ctx, api_rate_limit), api_max_body_bytes, _too_large)
    pages = None if console is None else limit_body(console, api_max_body_bytes, _too_large)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in CALLBACK_PATHS:
            await callbacks(scope, receive, send)
        elif dynamodb is not None and is_dynamodb(scope):
            await dynamodb(scope, receive, send)
        elif iot is not None and is_iot(scope):
            await iot(scope, receive, send)
        elif pages is not None and _is_console(scope["path"]):
            await pages(scope, receive, send)
        else:
            await api(scope, receive, send)

    return app
