"""The HTTP network servers' endpoints: ChirpStack v4's HTTP integration, The Things Stack v3's
webhooks and AWS IoT Core for LoRaWAN's rule documents, each authenticated by the Bearer token
of a LoRa integration of its kind.

Bodies are bounded before authentication (the app's body limit); a malformed one is a 400 with
a JSON body; an uplink is stored before the 200.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from lorafox.api.context import Ctx
from lorafox.api.lora_integrations import lora
from lorafox.api.schemas import error_responses
from lorafox.domain import LoraKind
from lorafox.errors import InvalidInput, NotFound
from lorafox.lora import chirpstack, tts
from lorafox.lora.aws import parse_document
from lorafox.lora.reports import Report

__all__ = ["router"]

router = APIRouter(prefix="/lora", tags=["lora"])

IntegrationId = Annotated[str, Path(description="The LoRa integration identifier", max_length=64)]
_HEADER_MAX = 1000


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    return body


async def _handle(
    ctx: Ctx,
    request: Request,
    integration_id: str,
    kind: LoraKind,
    parse: Callable[[dict[str, Any]], Report],
    context: Callable[[Request, object], dict[str, str]] | None = None,
) -> JSONResponse:
    services = lora(ctx)
    sender = await services.integrations.authenticate(
        integration_id, request.headers.get("authorization")
    )
    if sender.integration.kind is not kind:
        raise NotFound(f"no {kind.value} LoRa integration {integration_id}")
    report = parse(await _json_object(request))
    if context is not None:
        report.context.update(context(request, sender.integration.config.get("downlinkPushUrl")))
    handled = await services.network.handle(sender, report)
    body = {"kind": handled.kind, "stored": handled.stored, "messageId": handled.message_id}
    return JSONResponse({k: v for k, v in body.items() if v is not None})


@router.post(
    "/chirpstack/{integration_id}",
    summary="ChirpStack v4 HTTP integration (JSON marshaler); Bearer token of the integration",
    responses=error_responses(400, 404),
)
async def chirpstack_event(
    ctx: Ctx,
    request: Request,
    integration_id: IntegrationId,
    event: Annotated[str | None, Query(max_length=32)] = None,
) -> JSONResponse:
    def parse(body: dict[str, Any]) -> Report:
        return chirpstack.parse_event(event, body)

    return await _handle(ctx, request, integration_id, LoraKind.CHIRPSTACK, parse)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _tts_context(request: Request, configured: object) -> dict[str, str]:
    """The downlink push URL and key the webhook sent (kept in memory only). When the
    integration names a ``downlinkPushUrl``, a pushed URL must have its scheme, host and port
    (lorafox posts there with the key: the token alone does not choose where)."""
    push = request.headers.get("x-downlink-push", "")
    key = request.headers.get("x-downlink-apikey", "")
    if not push.startswith(("http://", "https://")) or len(push) > _HEADER_MAX:
        return {}
    if isinstance(configured, str) and configured and _origin(configured) != _origin(push):
        return {}
    if not key or len(key) > _HEADER_MAX:
        return {}
    return {"downlinkPush": push, "downlinkApikey": key}


@router.post(
    "/tts/{integration_id}",
    summary="The Things Stack v3 webhook (any message kind); Bearer token of the integration",
    responses=error_responses(400, 404),
)
@router.post("/tts/{integration_id}/{path:path}", include_in_schema=False)
async def tts_webhook(ctx: Ctx, request: Request, integration_id: IntegrationId) -> JSONResponse:
    return await _handle(
        ctx, request, integration_id, LoraKind.TTS, tts.parse_message, _tts_context
    )


@router.post(
    "/aws/{integration_id}",
    summary="AWS IoT Core for LoRaWAN uplink document (from a rule's HTTP action)",
    responses=error_responses(400, 404),
)
async def aws_uplink(ctx: Ctx, request: Request, integration_id: IntegrationId) -> JSONResponse:
    if request.headers.get("authorization") is None:
        # AWS confirms an HTTP destination without the rule's headers: {"arn",
        # "confirmationToken", "enableUrl"}; anything else without a token is a 401 below
        body = await _json_object(request)
        url = body.get("enableUrl")
        if isinstance(body.get("confirmationToken"), str) and isinstance(url, str):
            lora(ctx).network.confirm_destination(integration_id, url)
            return JSONResponse({"kind": "confirmation"})
    return await _handle(ctx, request, integration_id, LoraKind.AWS_IOTWIRELESS, parse_document)
