"""The HTTP application: Sigfox callbacks on a bare fast path, everything else on FastAPI."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from lorafox import __version__
from lorafox.api import devices
from lorafox.api.asgi import ASGIApp, Receive, Scope, Send
from lorafox.api.callbacks import CALLBACK_PATHS, SigfoxCallbacks
from lorafox.api.context import ApiContext, admin_user, context
from lorafox.api.errors import error_response
from lorafox.errors import LorafoxError

__all__ = ["create_app"]


def _json_error(status: int, message: str, errors: list[dict[str, object]]) -> JSONResponse:
    return JSONResponse({"message": message, "errors": errors}, status_code=status)


def _api(ctx: ApiContext) -> FastAPI:
    api = FastAPI(
        title="lorafox",
        version=__version__,
        description="Sigfox API v2 compatible device API, downlink queue and service endpoints.",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    api.state.lorafox = ctx

    @api.exception_handler(LorafoxError)
    async def _lorafox_error(_: Request, exc: LorafoxError) -> Response:
        status, headers, body = error_response(exc)
        return Response(
            body, status_code=status, headers={k.decode(): v.decode() for k, v in headers}
        )

    @api.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        errors: list[dict[str, object]] = [
            {"field": ".".join(str(p) for p in e["loc"][1:]), "message": e["msg"]}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"field": "", "message": "invalid request"}
        return _json_error(400, f"{first['field']}: {first['message']}", errors)

    @api.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> Response:
        return _json_error(exc.status_code, str(exc.detail), [])

    @api.get("/healthz", tags=["service"], summary="Liveness and readiness (no authentication)")
    async def healthz(ctx: Annotated[ApiContext, Depends(context)]) -> JSONResponse:
        checks = ctx.health()
        ok = all(value in {"ok", "connected", "disabled"} for value in checks.values())
        return JSONResponse({"status": "ok" if ok else "degraded", **checks}, 200 if ok else 503)

    @api.get(
        "/metrics",
        tags=["service"],
        summary="Prometheus metrics (admin Basic auth)",
        dependencies=[Depends(admin_user)],
        response_class=Response,
    )
    async def metrics(ctx: Annotated[ApiContext, Depends(context)]) -> Response:
        return Response(ctx.metrics.render(), media_type="text/plain; version=0.0.4")

    api.include_router(devices.router)
    return api


def create_app(ctx: ApiContext, callbacks: SigfoxCallbacks) -> ASGIApp:
    """The ASGI app: ``/sigfox/uplink`` and ``/sigfox/bidir`` bypass FastAPI."""
    api = _api(ctx)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in CALLBACK_PATHS:
            await callbacks(scope, receive, send)
        else:
            await api(scope, receive, send)

    return app
